//! What publishing relies on: every cargo feature is in the crate docs' feature table, the
//! pinned toolchain is the declared MSRV (so every build checks it), and the changelog has a
//! place for the next release.
#![cfg(not(target_arch = "wasm32"))]

const MANIFEST: &str = include_str!("../Cargo.toml");
const LIB: &str = include_str!("../src/lib.rs");
const CHANGELOG: &str = include_str!("../CHANGELOG.md");
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");
const TOOLCHAIN: &str = include_str!("../../rust-toolchain.toml");

/// The names in the manifest's `[features]` table.
fn features() -> Vec<&'static str> {
    MANIFEST
        .lines()
        .skip_while(|line| line.trim() != "[features]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty())
        .collect()
}

/// The quoted value of `key = "…"` in `toml`.
fn string_value<'a>(toml: &'a str, key: &str) -> &'a str {
    toml.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn every_feature_is_in_the_crate_docs_feature_table() {
    let features = features();
    assert!(
        features.len() > 5 && features.contains(&"tracing"),
        "the [features] table was not read: {features:?}"
    );
    let missing: Vec<&str> = features
        .into_iter()
        .filter(|f| *f != "default")
        .filter(|f| !LIB.contains(&format!("//! | `{f}` |")))
        .collect();
    assert!(missing.is_empty(), "features missing from src/lib.rs's feature table: {missing:?}");
}

#[test]
fn the_pinned_toolchain_is_the_declared_msrv() {
    let msrv = string_value(WORKSPACE_MANIFEST, "rust-version");
    let channel = string_value(TOOLCHAIN, "channel");
    assert!(
        channel == msrv || channel.strip_prefix(msrv).is_some_and(|patch| patch.starts_with('.')),
        "rust-toolchain.toml pins {channel} but rust-version is {msrv}: the pinned toolchain must be the MSRV \
         so every build checks it"
    );
}

#[test]
fn the_changelog_has_an_unreleased_section_first() {
    let first = CHANGELOG.lines().find(|line| line.starts_with("## ")).expect("a release section");
    assert_eq!(first, "## [Unreleased]");
}
