//! A slippy-map tile server on loopback for the console's map: it answers every
//! `/{z}/{x}/{y}.svg` with a 256-pixel SVG tile labelled with its coordinates and records what
//! was asked, uncached (`no-store`, so that a stopped server means tiles that do not load).
//! Stopped (its port closed) on drop or by [`TileServer::stop`].
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct TileServer {
    /// `http://127.0.0.1:<port>/{z}/{x}/{y}.svg`.
    pub template: String,
    asked: Arc<Mutex<Vec<(u32, u32, u32)>>>,
    stopping: Arc<AtomicBool>,
    port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TileServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = {
            let (asked, stopping) = (Arc::clone(&asked), Arc::clone(&stopping));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &asked);
                    }
                }
            })
        };
        Self {
            template: format!("http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.svg"),
            asked,
            stopping,
            port,
            thread: Some(thread),
        }
    }

    /// The tiles asked for so far, as `(z, x, y)`.
    pub fn asked(&self) -> Vec<(u32, u32, u32)> {
        self.asked.lock().unwrap().clone()
    }

    /// Closes the port: further tile requests are refused, as with no network.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopping.store(true, Ordering::SeqCst);
            // Wake the accept loop so it sees the flag and drops the listener.
            let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
            let _ = thread.join();
        }
    }
}

impl Drop for TileServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut stream: std::net::TcpStream, asked: &Mutex<Vec<(u32, u32, u32)>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let tile: Option<(u32, u32, u32)> = path
        .strip_suffix(".svg")
        .map(|p| p.trim_start_matches('/').split('/'))
        .and_then(|mut parts| {
            let mut next = || parts.next()?.parse().ok();
            Some((next()?, next()?, next()?))
        });
    let response = match tile {
        Some((z, x, y)) => {
            asked.lock().unwrap().push((z, x, y));
            let body = format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\">\
                 <rect width=\"256\" height=\"256\" fill=\"#dfe8d8\" stroke=\"#b7c4ad\"/>\
                 <text x=\"8\" y=\"20\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#6b7a60\">\
                 tile {z}/{x}/{y}</text></svg>"
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/svg+xml\r\ncontent-length: {}\r\n\
                 cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    };
    let _ = stream.write_all(response.as_bytes());
}
