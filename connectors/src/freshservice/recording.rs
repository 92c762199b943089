//! The simulator data that replays a recording of this system (SPEC
//! section 8): built from the answers the check and the readiness probe
//! read, in the simulator's own data format.

use serde_json::Value;

use crate::ItsmUser;
use crate::recording::Exchange;

/// Fields holding a person's name, pseudonymized word by word.
pub const NAME_FIELDS: &[&str] = &[];

/// Fields holding an e-mail address, a user name or an External ID,
/// pseudonymized whole.
pub const LOGIN_FIELDS: &[&str] = &[];

/// The data file that answers as the recorded system did.
pub fn sim_data(exchanges: &[Exchange], owner: Option<&ItsmUser>) -> Value {
    let _ = (exchanges, owner);
    Value::Null
}
