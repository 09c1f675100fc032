//! The one place the portal turns a MAC into a line: the gate's lookup
//! (the line a MAC is bound to, or a MAG-only line named by its MAC as
//! `001A79AABBCC` or `00-1A-79-AA-BB-CC`; docs/devices.md). It answers from
//! memory and the same way however the MAC was spelt, so an unknown MAC's
//! answer never depends on whether some other spelling of it exists.

use super::identity::Mac;
use crate::state::App;
use std::sync::Arc;
use tvgate_core::access::Line;

/// The line a box with this MAC belongs to, if any.
pub fn line_by_mac(app: &App, mac: &Mac) -> Option<Arc<Line>> {
    app.gate.line_by_mac(mac.as_str())
}
