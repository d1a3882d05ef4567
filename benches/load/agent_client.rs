//! The load client of benches/commands.py's token-agent figures: CLIENTS threads, each with one
//! kept-alive loopback connection to `signet serve`, asking N times for the same token (the Azure
//! protocol). With RATE 0 they ask back to back (answers/s); otherwise together at RATE answers/s
//! (each answer's latency without the queueing of 64 clients on 2 cores). Standard library only,
//! compiled by commands.py with `rustc -O`, so the client costs little next to what it measures
//! (Python's http.client alone takes ~0.2 ms per request).
//!
//! Usage: agent_client ADDR SECRET CLIENTS N RATE; prints `answers_per_s p50_ms p99_ms`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Reads one HTTP/1.1 answer (headers, then Content-Length bytes); returns its status.
fn read_answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head[9..12].parse().expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("length"))
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    status
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (addr, secret) = (a[1].clone(), a[2].clone());
    let clients: usize = a[3].parse().unwrap();
    let n: usize = a[4].parse().unwrap();
    let rate: f64 = a[5].parse().unwrap();
    let request = format!(
        "GET /msi/token?api-version=2019-08-01&resource=api://bench HTTP/1.1\r\nHost: 127.0.0.1\r\nX-IDENTITY-HEADER: {secret}\r\n\r\n"
    );
    let interval = if rate > 0.0 {
        Duration::from_secs_f64(clients as f64 / rate)
    } else {
        Duration::ZERO
    };
    let go = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|k| {
            let (addr, request, go) = (addr.clone(), request.clone(), go.clone());
            // Paced clients are spread over the interval, not fired in lockstep.
            let offset = interval.mul_f64(k as f64 / clients as f64);
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                s.set_nodelay(true).unwrap();
                let mut buf = Vec::with_capacity(8192);
                for _ in 0..20 {
                    s.write_all(request.as_bytes()).unwrap();
                    assert_eq!(read_answer(&mut s, &mut buf), 200);
                }
                go.wait();
                let start = Instant::now();
                let mut lat = Vec::with_capacity(n);
                for i in 0..n {
                    if !interval.is_zero() {
                        let at = start + offset + interval * i as u32;
                        if let Some(d) = at.checked_duration_since(Instant::now()) {
                            std::thread::sleep(d);
                        }
                    }
                    let t = Instant::now();
                    s.write_all(request.as_bytes()).unwrap();
                    assert_eq!(read_answer(&mut s, &mut buf), 200);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    go.wait();
    let start = Instant::now();
    let mut all: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:.0} {:.3} {:.3}",
        all.len() as f64 / secs,
        ms(all[all.len() / 2]),
        ms(all[all.len() * 99 / 100])
    );
}
