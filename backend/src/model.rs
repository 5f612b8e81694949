//! What the API returns and accepts (JSON): the types shared with the frontend, defined once
//! in `cruddur-api` so a field cannot drift between the two.

pub use cruddur_api::{Activity, ErrorBody, MAX_MESSAGE_CHARS, NewActivity, NewReply, TTLS, Ttl, User};
