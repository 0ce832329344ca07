//! A Redis server for tests: the one `$REDIS_URL` names (CI starts one), or else a private
//! `redis-server` started on a free loopback port and stopped when dropped. Loopback only.
// Several test binaries include this module, each using part of it.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub url: String,
}

impl RedisServer {
    /// `$REDIS_URL` if set (it must answer); else a private server if `redis-server` is on the
    /// PATH; else `None`, after saying why.
    pub fn start() -> Option<RedisServer> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            let address = url.trim_start_matches("redis://").trim_end_matches('/').to_owned();
            assert!(wait_for(&address), "REDIS_URL={url} does not answer");
            return Some(RedisServer { child: None, url });
        }
        Self::start_private()
    }

    /// Always a private server (for tests that stop it), or `None` without `redis-server`.
    pub fn start_private() -> Option<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("skipped: no redis-server on PATH and no REDIS_URL");
            return None;
        };
        let address = format!("127.0.0.1:{port}");
        let server = RedisServer { child: Some(child), url: format!("redis://{address}/") };
        assert!(wait_for(&address), "redis-server did not start on {address}");
        Some(server)
    }

    /// Stop a private server; a shared one is left alone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for(address: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect(address).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
