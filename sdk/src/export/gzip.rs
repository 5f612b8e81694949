//! gzip (RFC 1952) of export bodies, in the wasm and synchronous (feature `gzip`).
//!
//! One DEFLATE block with the fixed Huffman codes (RFC 1951 §3.2.6) over LZ77 matches found
//! with hash chains in a 32 KiB window. Export bodies repeat themselves (attribute keys, the
//! scope, ids of the same trace), which LZ77 removes; fixed codes cost a few percent against
//! the dynamic ones zlib would build, and keep the encoder small.
//!
//! Why not the browser's `CompressionStream`: it is asynchronous, and a page being hidden or
//! unloaded must start its requests before the event handler returns. Compressing in the wasm
//! means the bodies sent at page hide are compressed too, and the keepalive budget is counted in
//! the bytes that actually go on the wire.

/// Longest match DEFLATE can express.
const MAX_MATCH: usize = 258;
const MIN_MATCH: usize = 3;
/// DEFLATE's window.
const WINDOW: usize = 32 * 1024;
const HASH_BITS: u32 = 14;
/// Candidates tried per position: the speed/size trade-off (zlib's level 6 tries 128).
const MAX_CHAIN: usize = 16;
/// A match this long is taken without looking further.
const GOOD_ENOUGH: usize = 64;

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
    227, 258,
];
const LENGTH_EXTRA: [u8; 29] =
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/// `data` as a gzip member.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut bits = Bits { out: Vec::with_capacity(data.len() / 3 + 32), acc: 0, len: 0 };
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=unknown.
    bits.out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = fixed Huffman
    deflate(&mut bits, data);
    literal(&mut bits, 256);
    bits.flush();
    let mut out = bits.out;
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

struct Bits {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl Bits {
    /// Appends the `count` low bits of `value`, least significant first.
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.len;
        self.len += count;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// A Huffman code: most significant bit first.
    fn code(&mut self, code: u32, count: u32) {
        self.put(code.reverse_bits() >> (32 - count), count);
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.len = 0;
        }
    }
}

/// A literal/length symbol in the fixed code.
fn literal(bits: &mut Bits, symbol: u32) {
    match symbol {
        0..=143 => bits.code(0x30 + symbol, 8),
        144..=255 => bits.code(0x190 + symbol - 144, 9),
        256..=279 => bits.code(symbol - 256, 7),
        _ => bits.code(0xc0 + symbol - 280, 8),
    }
}

fn emit_match(bits: &mut Bits, length: usize, distance: usize) {
    let l = LENGTH_BASE.partition_point(|&b| usize::from(b) <= length) - 1;
    literal(bits, 257 + l as u32);
    bits.put((length - usize::from(LENGTH_BASE[l])) as u32, u32::from(LENGTH_EXTRA[l]));
    let d = DIST_BASE.partition_point(|&b| usize::from(b) <= distance) - 1;
    bits.code(d as u32, 5);
    bits.put((distance - usize::from(DIST_BASE[d])) as u32, u32::from(DIST_EXTRA[d]));
}

fn hash(data: &[u8], i: usize) -> usize {
    let v = u32::from(data[i]) | u32::from(data[i + 1]) << 8 | u32::from(data[i + 2]) << 16;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// LZ77 with hash chains, greedy with one step of lazy matching (as zlib's middle levels).
fn deflate(bits: &mut Bits, data: &[u8]) {
    // Positions are stored plus one, so 0 means "none".
    let mut head = vec![0u32; 1 << HASH_BITS];
    let mut prev = vec![0u32; WINDOW];
    let insert = |head: &mut [u32], prev: &mut [u32], i: usize| {
        if i + MIN_MATCH <= data.len() {
            let h = hash(data, i);
            prev[i % WINDOW] = head[h];
            head[h] = i as u32 + 1;
        }
    };
    let longest = |head: &[u32], prev: &[u32], i: usize| -> (usize, usize) {
        if i + MIN_MATCH > data.len() {
            return (0, 0);
        }
        let max = (data.len() - i).min(MAX_MATCH);
        let (mut best_len, mut best_dist) = (0, 0);
        let mut candidate = head[hash(data, i)];
        let mut chain = MAX_CHAIN;
        while candidate > 0 && chain > 0 {
            let j = candidate as usize - 1;
            if j >= i || i - j > WINDOW {
                break;
            }
            if data[j + best_len.min(max - 1)] == data[i + best_len.min(max - 1)] {
                let len = data[j..j + max].iter().zip(&data[i..i + max]).take_while(|(a, b)| a == b).count();
                if len > best_len {
                    (best_len, best_dist) = (len, i - j);
                    if len >= GOOD_ENOUGH.min(max) {
                        break;
                    }
                }
            }
            let next = prev[j % WINDOW];
            if next as usize > j {
                break; // overwritten by a newer position: the chain ends here
            }
            candidate = next;
            chain -= 1;
        }
        if best_len >= MIN_MATCH { (best_len, best_dist) } else { (0, 0) }
    };
    let mut i = 0;
    while i < data.len() {
        let (len, dist) = longest(&head, &prev, i);
        insert(&mut head, &mut prev, i);
        if len == 0 {
            literal(bits, u32::from(data[i]));
            i += 1;
            continue;
        }
        // Lazy: a longer match one byte later is worth a literal now.
        if len < GOOD_ENOUGH && i + 1 < data.len() {
            let (next_len, _) = longest(&head, &prev, i + 1);
            if next_len > len {
                literal(bits, u32::from(data[i]));
                i += 1;
                continue;
            }
        }
        emit_match(bits, len, dist);
        for k in i + 1..i + len {
            insert(&mut head, &mut prev, k);
        }
        i += len;
    }
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::io::Read;

    use super::*;
    use proptest::prelude::*;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("valid gzip");
        out
    }

    #[test]
    fn edge_inputs_round_trip_through_zlib() {
        let long_run = vec![b'a'; 100_000];
        let mut far = vec![0u8; 40_000];
        far.extend_from_slice(b"far away repeat far away repeat");
        let cases: [&[u8]; 6] = [b"", b"a", b"ab", b"abcabcabcabcabcabc", &long_run, &far];
        for data in cases {
            assert_eq!(gunzip(&compress(data)), data, "{} bytes", data.len());
        }
        assert!(compress(&long_run).len() < 1_000, "a run compresses");
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn an_otlp_body_shrinks_several_times() {
        let spans: Vec<_> = (0..200)
            .map(|i| {
                let mut span = crate::export::test_span(&format!("GET /api/activities/{i}"));
                span.attributes.push(opentelemetry::KeyValue::new("http.response.status_code", 200i64));
                span
            })
            .collect();
        let body = super::super::otlp_json::encode_request("{\"attributes\":[]}", &spans);
        let gz = compress(body.as_bytes());
        assert_eq!(gunzip(&gz), body.as_bytes());
        assert!(gz.len() * 6 < body.len(), "{} → {}", body.len(), gz.len());
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip_through_zlib(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(gunzip(&compress(&data)), data);
        }

        #[test]
        fn repetitive_text_round_trips_through_zlib(parts in proptest::collection::vec("(abc|hello|\"key\":|[0-9]{1,3}|x{1,300})", 0..400)) {
            let data = parts.concat().into_bytes();
            prop_assert_eq!(gunzip(&compress(&data)), data);
        }
    }
}
