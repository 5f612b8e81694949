//! [`DaemonClient`]: segment documents to the X-Ray daemon over UDP, each corrected (see
//! [`correct`]) where `opentelemetry-aws` 0.21's translator claims more than the span says.
//!
//! The translator writes two fields unconditionally that X-Ray defines narrowly:
//!
//! - `http.request.x_forwarded_for: true` for every `client.address`, although X-Ray means
//!   "`client_ip` was read from an `X-Forwarded-For` header and could be forged". The claim is
//!   kept only when the client address differs from the connection's peer
//!   (`network.peer.address`, which reaches the document as metadata).
//! - `aws.elastic_beanstalk.version_label` (and `environment_name`) from `service.version`
//!   (and `service.namespace`) on every host. The object is kept only when it has a
//!   `deployment_id`, which the translator sets only when `cloud.platform` says Elastic
//!   Beanstalk; the version stays in `service.version`.
//!
//! The corrections need the document's content, which `SegmentDocument` keeps private: each
//! document goes through a `serde_json::Value` on its way to the socket.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use opentelemetry_aws::xray_exporter::{SegmentDocument, SegmentDocumentExporter};
use serde_json::Value;

/// The daemon protocol's header line, sent before every document.
const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// Sends corrected segment documents to the daemon, one datagram each.
#[derive(Debug)]
pub struct DaemonClient {
    socket: UdpSocket,
}

impl DaemonClient {
    /// A client for the daemon at `daemon`, from an ephemeral port of the same address family
    /// (on loopback when the daemon is).
    pub fn new(daemon: SocketAddr) -> io::Result<Self> {
        let local: SocketAddr = match daemon {
            SocketAddr::V4(d) if d.ip().is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(d) if d.ip().is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(daemon)?;
        Ok(Self { socket })
    }

    fn send(&self, document: &SegmentDocument<'_>) -> io::Result<()> {
        let mut value = serde_json::to_value(document)?;
        correct(&mut value);
        let mut datagram = DAEMON_HEADER.to_vec();
        serde_json::to_writer(&mut datagram, &value)?;
        self.socket.send(&datagram).map(drop)
    }
}

impl SegmentDocumentExporter for DaemonClient {
    type Error = io::Error;

    /// Sends every document; one that fails does not stop the rest (the last error is returned).
    async fn export_segment_documents(&self, batch: Vec<SegmentDocument<'_>>) -> io::Result<()> {
        let mut result = Ok(());
        for document in &batch {
            if let Err(e) = self.send(document) {
                result = Err(e);
            }
        }
        result
    }
}

/// Removes what the translator claims without the span saying so (see the module docs).
fn correct(document: &mut Value) {
    let peer = document.pointer("/metadata/network.peer.address").cloned();
    if let Some(request) = document.pointer_mut("/http/request").and_then(Value::as_object_mut) {
        let forwarded = peer.is_some_and(|peer| request.get("client_ip").is_some_and(|ip| *ip != peer));
        if !forwarded {
            request.remove("x_forwarded_for");
        }
    }
    if let Some(aws) = document.get_mut("aws").and_then(Value::as_object_mut) {
        let beanstalk = aws.get("elastic_beanstalk").is_some_and(|eb| eb.get("deployment_id").is_some());
        if !beanstalk {
            aws.remove("elastic_beanstalk");
        }
        if aws.is_empty() {
            document.as_object_mut().map(|d| d.remove("aws"));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::correct;

    #[test]
    fn a_client_address_that_is_the_peer_is_not_claimed_as_forwarded() {
        let mut doc = json!({
            "http": {"request": {"client_ip": "127.0.0.1", "x_forwarded_for": true}},
            "metadata": {"network.peer.address": "127.0.0.1"},
        });
        correct(&mut doc);
        assert_eq!(doc["http"]["request"], json!({"client_ip": "127.0.0.1"}));
    }

    #[test]
    fn a_client_address_other_than_the_peer_stays_forwarded() {
        let mut doc = json!({
            "http": {"request": {"client_ip": "203.0.113.7", "x_forwarded_for": true}},
            "metadata": {"network.peer.address": "10.0.0.2"},
        });
        correct(&mut doc);
        assert_eq!(doc["http"]["request"]["x_forwarded_for"], true);
    }

    #[test]
    fn without_a_peer_address_nothing_is_claimed_as_forwarded() {
        let mut doc = json!({"http": {"request": {"client_ip": "203.0.113.7", "x_forwarded_for": true}}});
        correct(&mut doc);
        assert_eq!(doc["http"]["request"].get("x_forwarded_for"), None);
    }

    #[test]
    fn beanstalk_is_claimed_only_with_a_deployment_id() {
        let mut doc = json!({"aws": {"elastic_beanstalk": {"version_label": "0.1.0"}}, "service": {"version": "0.1.0"}});
        correct(&mut doc);
        assert_eq!(doc, json!({"service": {"version": "0.1.0"}}));

        let mut doc = json!({"aws": {"elastic_beanstalk": {"version_label": "0.1.0"}, "account_id": "1"}});
        correct(&mut doc);
        assert_eq!(doc, json!({"aws": {"account_id": "1"}}));

        let on_beanstalk = json!({"aws": {"elastic_beanstalk": {"version_label": "v7", "deployment_id": 7}}});
        let mut doc = on_beanstalk.clone();
        correct(&mut doc);
        assert_eq!(doc, on_beanstalk);
    }
}
