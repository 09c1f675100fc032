//! A DNS server on a loopback address, answering every name the way the
//! test says: with given addresses (a sink such as 0.0.0.0, or the real
//! one), "no such name", or not at all. The same answers are offered over
//! DNS-over-HTTPS through [`doh_handler`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use super::http::{Handler, Response};

/// How the server answers every question.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// These addresses (A questions get the IPv4 ones, AAAA the IPv6 ones;
    /// none of a family is an empty NOERROR answer).
    Answer(Vec<IpAddr>),
    /// NXDOMAIN: "no such name".
    NxDomain,
    /// Reads the question and never answers.
    Silent,
    /// Over UDP an empty answer marked truncated; over TCP (same address
    /// and port) these addresses.
    Truncated(Vec<IpAddr>),
}

/// A DNS server over UDP and TCP on the same port; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    tcp_task: JoinHandle<()>,
}

impl DnsServer {
    /// Listens on `ip` (any 127/8 address) at an ephemeral port.
    pub async fn start(ip: Ipv4Addr, behaviour: Behaviour) -> DnsServer {
        let socket = UdpSocket::bind((ip, 0))
            .await
            .expect("bind the test DNS server");
        let addr = socket.local_addr().expect("local address");
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind the test DNS server over TCP");
        let udp_behaviour = match &behaviour {
            Behaviour::Truncated(_) => None,
            other => Some(other.clone()),
        };
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let reply = match &udp_behaviour {
                    Some(behaviour) => answer(&buf[..n], behaviour),
                    None => truncated(&buf[..n]),
                };
                if let Some(reply) = reply {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
        let tcp_behaviour = match behaviour {
            Behaviour::Truncated(ips) => Behaviour::Answer(ips),
            other => other,
        };
        let tcp_task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_tcp(stream, tcp_behaviour.clone()));
            }
        });
        DnsServer {
            addr,
            task,
            tcp_task,
        }
    }
}

async fn serve_tcp(mut stream: TcpStream, behaviour: Behaviour) {
    let Ok(len) = stream.read_u16().await else {
        return;
    };
    let mut question = vec![0u8; usize::from(len)];
    if stream.read_exact(&mut question).await.is_err() {
        return;
    }
    let Some(reply) = answer(&question, &behaviour) else {
        return;
    };
    let Ok(reply_len) = u16::try_from(reply.len()) else {
        return;
    };
    let _ = stream.write_all(&reply_len.to_be_bytes()).await;
    let _ = stream.write_all(&reply).await;
}

/// An empty answer with the truncated flag: "ask again over TCP".
fn truncated(question: &[u8]) -> Option<Vec<u8>> {
    let reply = answer(question, &Behaviour::Answer(Vec::new()))?;
    let mut message = Message::from_vec(&reply).ok()?;
    message.set_truncated(true);
    message.to_vec().ok()
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
        self.tcp_task.abort();
    }
}

/// The wire-format answer to a wire-format question, or `None` to stay
/// silent (or for a question that cannot be read).
pub fn answer(question: &[u8], behaviour: &Behaviour) -> Option<Vec<u8>> {
    let request = Message::from_vec(question).ok()?;
    let query = request.queries().first()?.clone();
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .add_query(query.clone());
    match behaviour {
        Behaviour::Silent => return None,
        Behaviour::Truncated(_) => return truncated(question),
        Behaviour::NxDomain => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
        Behaviour::Answer(ips) => {
            for ip in ips {
                let rdata = match (ip, query.query_type()) {
                    (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                    (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                    _ => continue,
                };
                reply.add_answer(Record::from_rdata(query.name().clone(), 60, rdata));
            }
        }
    }
    reply.to_vec().ok()
}

/// An HTTP handler that answers RFC 8484 POST queries as `behaviour` says
/// (a silent one gets HTTP 504 after the client gives up).
pub fn doh_handler(behaviour: Behaviour) -> Handler {
    Arc::new(move |request| match answer(&request.body, &behaviour) {
        Some(body) => Response::new(200, "application/dns-message", body),
        None => Response::new(
            400,
            "text/plain",
            b"unreadable or unanswered question".to_vec(),
        ),
    })
}
