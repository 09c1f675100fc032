//! One subscription per node to the deployment's channels: `PREFIX"ended"`
//! (leases another node ended: the ledger cuts the ones it serves) and
//! `PREFIX"limits"` (failure levels, trusted addresses and MAC-scan blocks
//! for this node's limiters). A lost subscription is made again within a
//! fraction of a second; what was said meanwhile is not heard, which costs
//! nothing lasting: a body learns that its lease ended at its next renewal
//! (a second at most), and the next failure anywhere carries the bucket's
//! whole level.

use crate::ledger::RedisLedger;
use crate::limits::SharedLimits;
use crate::link::Link;
use futures::StreamExt;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long to wait before subscribing again.
const RETRY: Duration = Duration::from_millis(250);
/// How often a quiet subscription is checked with a PING (a Redis that
/// went away without closing the connection).
const CHECK: Duration = Duration::from_secs(5);

pub(crate) fn start(
    link: Arc<Link>,
    prefix: &str,
    ledger: Weak<RedisLedger>,
    limits: Weak<SharedLimits>,
) {
    let ended = format!("{prefix}ended");
    let shared = format!("{prefix}limits");
    tokio::spawn(async move {
        loop {
            if ledger.strong_count() == 0 && limits.strong_count() == 0 {
                return;
            }
            if let Ok(pubsub) = link.pubsub().await {
                let (mut sink, mut stream) = pubsub.split();
                let subscribed = tokio::time::timeout(CHECK, async {
                    sink.subscribe(&ended).await?;
                    sink.subscribe(&shared).await
                })
                .await;
                if matches!(subscribed, Ok(Ok(()))) {
                    loop {
                        let message = tokio::select! {
                            m = stream.next() => m,
                            () = tokio::time::sleep(CHECK) => {
                                let alive = tokio::time::timeout(Duration::from_secs(1), sink.ping::<String>()).await;
                                let gone = ledger.strong_count() == 0 && limits.strong_count() == 0;
                                if gone || !matches!(alive, Ok(Ok(_))) {
                                    break;
                                }
                                continue;
                            }
                        };
                        let Some(message) = message else { break };
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        if message.get_channel_name() == ended {
                            if let Some(ledger) = ledger.upgrade() {
                                ledger.heard_ended(&payload);
                            }
                        } else if let Some(limits) = limits.upgrade() {
                            limits.heard(&payload);
                        }
                    }
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}
