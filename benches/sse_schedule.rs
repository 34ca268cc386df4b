// A server-sent events server that keeps its schedule, for benches/streams.sh's accuracy
// run: one thread, non-blocking sockets, spinning on its own CPU, so each event leaves
// within microseconds of its time (the demo server, through hyper and a timer thread,
// fell behind at 1 000 streams). Every request on a keep-alive connection gets N events,
// the first FIRST_MS after the request's head arrived, then one every GAP_MS, chunked,
// then the body's end. std only: built with `rustc -O`.
//
//   sse_schedule PORT FIRST_MS GAP_MS N
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    /// The stream being sent: when it began and how many events went.
    stream: Option<(Instant, u32)>,
    dead: bool,
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (port, first, gap, n) = (args[0], args[1], args[2], args[3] as u32);
    let (first, gap) = (Duration::from_millis(first), Duration::from_millis(gap));
    let listener = TcpListener::bind(("127.0.0.1", port as u16)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut conns: Vec<Conn> = Vec::new();
    let mut scratch = [0u8; 4096];
    loop {
        while let Ok((sock, _)) = listener.accept() {
            sock.set_nonblocking(true).unwrap();
            sock.set_nodelay(true).unwrap();
            conns.push(Conn {
                sock,
                buf: Vec::new(),
                stream: None,
                dead: false,
            });
        }
        let now = Instant::now();
        for c in &mut conns {
            if c.stream.is_none() {
                match c.sock.read(&mut scratch) {
                    Ok(0) => c.dead = true,
                    Ok(k) => c.buf.extend_from_slice(&scratch[..k]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => c.dead = true,
                }
                if let Some(end) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    c.buf.drain(..end + 4);
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                    c.dead |= c.sock.write_all(head.as_bytes()).is_err();
                    c.stream = Some((now, 0));
                }
            }
            if let Some((start, sent)) = c.stream
                && now >= start + first + gap * sent
            {
                let data = format!("data: {{\"n\": {}}}\n\n", sent + 1);
                let mut chunk = format!("{:x}\r\n{data}\r\n", data.len());
                if sent + 1 == n {
                    chunk.push_str("0\r\n\r\n");
                    c.stream = None;
                } else {
                    c.stream = Some((start, sent + 1));
                }
                c.dead |= c.sock.write_all(chunk.as_bytes()).is_err();
            }
        }
        conns.retain(|c| !c.dead);
    }
}
