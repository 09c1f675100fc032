//! TEMPORARY stand-in for `Gate::account_by_mac` (device binding, built on
//! another branch): every place the portal turns a MAC into a line calls
//! [`account_by_mac`] and nothing else, so the real lookup replaces this
//! file's body in one place.
//!
//! Until then a MAC identifies the line whose *username* is that MAC. A
//! username cannot hold `:` (it breaks stream URLs; see
//! `tvgate_core::access::credentials`), so besides the canonical
//! `00:1A:79:00:00:01` the spellings `001A79000001` and `00-1A-79-00-00-01`
//! are tried, each in upper and lower case. Every MAC goes through the same
//! tries, so the answer for an unknown MAC never depends on how it was
//! written or whether some other spelling of it exists.

use super::identity::Mac;
use crate::state::App;
use std::sync::Arc;
use tvgate_core::access::Account;

/// The line a box with this MAC belongs to, if any.
pub fn account_by_mac(app: &App, mac: &Mac) -> Option<Arc<Account>> {
    let canonical = mac.as_str();
    let bare: String = canonical.chars().filter(|c| *c != ':').collect();
    let dashed = canonical.replace(':', "-");
    [canonical.to_string(), bare, dashed]
        .into_iter()
        .flat_map(|form| [form.to_ascii_lowercase(), form])
        .find_map(|form| app.gate.find_account(&form))
}
