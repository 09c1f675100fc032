//! `type=watchdog`: the box's keep-alive, and the only way to tell a running
//! box something. A line that may no longer be served (disabled, banned,
//! expired since the box started) gets `cut_off` on every ping, which the
//! stock UI shows as "your device is not active"; a box whose stream was
//! ended because another connection took its slot (newest-wins) or the
//! operator ended it gets one `send_msg` saying so (queued by `super::play`).

use super::Call;
use crate::answer::describe;
use crate::answer::stalker::js;
use axum::response::Response;
use serde_json::json;

pub fn answer(call: &Call<'_>, action: &str) -> Response {
    match action {
        "get_events" => get_events(call),
        "confirm_event" => js(json!({"data": "ok"})),
        _ => super::other("watchdog", action),
    }
}

fn get_events(call: &Call<'_>) -> Response {
    let sessions = &call.app.stalker.sessions;
    let number = call.session.number;
    if let Err(refused) = super::allowed(call) {
        let denial = refused.record(call.app);
        sessions.notify(number, "cut_off", describe(call.app, &denial));
    }
    let Some((id, pending)) = sessions.take_event(number) else {
        return js(json!({"data": {"msgs": 0, "additional_services_on": "1"}}));
    };
    js(json!({"data": {
        "msgs": 1,
        "id": id.to_string(),
        "event": pending.event,
        "need_confirm": 0,
        "msg": pending.msg,
        "reboot_after_ok": 0,
        "auto_hide_timeout": 0,
        "param1": "",
        "send_time": crate::localtime::local_time(call.app, call.app.now()),
        "additional_services_on": "1",
    }}))
}
