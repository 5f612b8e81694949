//! Pieces shared by the pages.

pub mod activity;
pub mod compose;
pub mod footer;
pub mod nav;
