//! The demo's WebSocket routes: `/ws/echo` (every message back as it came) and
//! `/ws/chat?room=R&tick_ms=1000` (a room: `{"type":"join"}` is answered
//! `{"type":"joined","member_id":N}`, any other message goes to everyone in the room as
//! `{"type":"message","text":...}`, and each member gets `{"type":"tick","n":i}` every
//! `tick_ms`).

use super::{Body, param};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Rooms by name, each a broadcast of its messages.
fn rooms() -> &'static Mutex<HashMap<String, broadcast::Sender<String>>> {
    static ROOMS: OnceLock<Mutex<HashMap<String, broadcast::Sender<String>>>> = OnceLock::new();
    ROOMS.get_or_init(Mutex::default)
}

/// The demo forgets rooms beyond this many.
const MAX_ROOMS: usize = 10_000;

/// Answers an upgrade to `/ws/echo` or `/ws/chat` with 101 and serves the socket; a
/// request that is not an upgrade gets 426.
pub(super) fn upgrade(mut req: Request<Incoming>) -> Response<Body> {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()));
    let wants = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(accept) = key.filter(|_| wants) else {
        let mut r = Response::new(
            Full::new(Bytes::from_static(
                b"this route speaks WebSocket: send an upgrade\n",
            ))
            .boxed_unsync(),
        );
        *r.status_mut() = StatusCode::UPGRADE_REQUIRED;
        return r;
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let chat = req.uri().path() == "/ws/chat";
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        if chat {
            serve_chat(socket, &query).await;
        } else {
            serve_echo(socket).await;
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()).boxed_unsync());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    r
}

/// The room's broadcast, made on first use.
fn room_sender(room: &str) -> broadcast::Sender<String> {
    let mut rooms = rooms().lock().unwrap_or_else(|p| p.into_inner());
    if rooms.len() >= MAX_ROOMS && !rooms.contains_key(room) {
        rooms.retain(|_, s| s.receiver_count() > 0);
    }
    rooms
        .entry(room.to_string())
        .or_insert_with(|| broadcast::channel(1024).0)
        .clone()
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn serve_echo(mut socket: Socket) {
    while let Some(Ok(m)) = socket.next().await {
        match m {
            Message::Text(_) | Message::Binary(_) => {
                let sent = socket.send(m).await;
                if sent.is_err() {
                    return;
                }
            }
            Message::Close(_) => {
                // Answers the close (tungstenite queued the reply as it read it).
                let _ = socket.flush().await;
                return;
            }
            _ => {}
        }
    }
}

async fn serve_chat(socket: Socket, query: &str) {
    static MEMBERS: AtomicU64 = AtomicU64::new(0);
    let room = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "room")
        .map_or_else(|| "lobby".to_string(), |(_, v)| v.into_owned());
    let tick = Duration::from_millis(
        param(query, "tick_ms")
            .unwrap_or(1000.0)
            .clamp(10.0, 60_000.0) as u64,
    );
    let sender = room_sender(&room);
    let mut heard = sender.subscribe();
    let member = MEMBERS.fetch_add(1, Ordering::Relaxed) + 1;
    let (mut out, mut inc) = socket.split();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    let mut n = 0u64;
    loop {
        let reply = tokio::select! {
            m = inc.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "join" {
                        Some(json!({ "type": "joined", "member_id": member, "room": room }).to_string())
                    } else {
                        let _ = sender.send(json!({ "type": "message", "text": t.as_str() }).to_string());
                        None
                    }
                }
                Some(Ok(Message::Close(_))) => {
                    let _ = out.close().await;
                    return;
                }
                Some(Err(_)) | None => return,
                Some(Ok(_)) => None,
            },
            b = heard.recv() => match b {
                Ok(text) => Some(text),
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ticks.tick() => {
                n += 1;
                Some(json!({ "type": "tick", "n": n }).to_string())
            }
        };
        if let Some(text) = reply
            && out.send(Message::text(text)).await.is_err()
        {
            return;
        }
    }
}
