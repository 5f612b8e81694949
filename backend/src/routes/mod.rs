//! The API's routes, each handler next to its route in its module.

pub mod activities;
pub mod health;
pub mod server_fns;
pub mod users;
