//! Load for subscriptions: N graphql-ws subscribers of one post's `commentAdded` and a writer adding comments
//! at a fixed rate; reports delivery latency (write sent → event received), deliveries and the server's
//! memory per idle connection and CPU. Driven by `bench/subscriptions.sh`, which starts the server.
//!
//!   cargo run --release --example subscription_bench -- --url http://127.0.0.1:18093 --pid <server pid>
//!
//! The server caps what one client address holds open (`max_connections_per_client`,
//! `ws_connections_per_client`), as it should in production. So that a thousand sockets from this one machine
//! look like the many clients they stand for, a server on a loopback address is reached from many loopback
//! source addresses (127.0.0.2, 127.0.0.3, …: Linux routes all of 127/8 to `lo`), `--sockets-per-address`
//! sockets each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long)]
    url: String,
    /// The server's process id (for its memory and CPU), if it runs on this machine.
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Comments written per second.
    #[arg(long, default_value_t = 10)]
    rate: u64,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Subscriber sockets opened from one loopback source address (under the server's per-address caps);
    /// 0: every socket from the system's choice of source address.
    #[arg(long, default_value_t = 16)]
    sockets_per_address: usize,
}

/// The source address of subscriber `index`: 127.0.0.2 and up, `per_address` subscribers each; `None` (the
/// system's choice) when the server is not on a loopback address or `per_address` is 0.
fn source_address(server: SocketAddr, index: usize, per_address: usize) -> Option<Ipv4Addr> {
    if per_address == 0 || !server.ip().is_loopback() || !server.is_ipv4() {
        return None;
    }
    let offset = u32::try_from(index / per_address).ok()?;
    let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)).checked_add(offset)?);
    // Past 127.255.255.254 (the broadcast address ends 127/8) there is no loopback address left.
    (address < Ipv4Addr::new(127, 255, 255, 255)).then_some(address)
}

/// A TCP connection to `server` from `source` (port chosen by the system), or from the system's choice.
async fn connect_from(server: SocketAddr, source: Option<Ipv4Addr>) -> tokio::net::TcpStream {
    let Some(source) = source else {
        return tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
    };
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .unwrap_or_else(|err| panic!("bind {source}: {err}"));
    socket
        .connect(server)
        .await
        .unwrap_or_else(|err| panic!("connect from {source}: {err}"))
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// VmRSS in KiB and CPU ticks (user + system) of `pid`.
fn process_stats(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    (rss, ticks)
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Value {
    let mut request = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let name = format!("subbench{}", now_micros() % 1_000_000_000);
    let signed = gql(
        &http,
        &args.url,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        json!({ "i": { "name": name, "email": format!("{name}@example.com"), "password": "bench-password-1" } }),
        None,
    )
    .await;
    let token = signed["signUp"]["accessToken"].as_str().unwrap().to_owned();
    let categories = gql(&http, &args.url, "{ categories { id } }", json!({}), None).await;
    let category = categories["categories"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = gql(
        &http,
        &args.url,
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
        json!({ "i": { "categoryId": category, "title": "subscribed", "content": "bench" } }),
        Some(&token),
    )
    .await;
    let post_id = post["createPost"]["post"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = args.pid.map(process_stats);
    let ws_url = args.url.replacen("http", "ws", 1) + "/graphql";
    let parsed = reqwest::Url::parse(&args.url).expect("--url");
    let server = tokio::net::lookup_host((
        parsed.host_str().expect("--url has a host"),
        parsed.port_or_known_default().expect("--url has a port"),
    ))
    .await
    .expect("resolve --url")
    .next()
    .expect("--url resolves");
    let sources = (0..args.subscribers)
        .filter_map(|i| source_address(server, i, args.sockets_per_address))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let latencies = Arc::new(Mutex::new(Vec::<u64>::with_capacity(1 << 16)));
    let delivered = Arc::new(AtomicU64::new(0));
    // Subscriptions that ended (error, complete, close) before the end of the run.
    let lost = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::with_capacity(args.subscribers);
    let opening = Instant::now();
    for index in 0..args.subscribers {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let stream = connect_from(
            server,
            source_address(server, index, args.sockets_per_address),
        )
        .await;
        let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap_or_else(|err| panic!("subscriber {index}: websocket handshake: {err}"));
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": {} }).to_string(),
            ))
            .await
            .unwrap();
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
                Some(Ok(_)) => continue,
                other => panic!("no connection_ack: {other:?}"),
            }
        }
        socket
            .send(Message::text(
                json!({
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($p: ID!) { commentAdded(postId: $p) { id content } }",
                        "variables": { "p": post_id }
                    }
                })
                .to_string(),
            ))
            .await
            .unwrap();
        let (latencies, delivered, lost) = (
            Arc::clone(&latencies),
            Arc::clone(&delivered),
            Arc::clone(&lost),
        );
        readers.push(tokio::spawn(async move {
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Text(text)) => {
                        let received = now_micros();
                        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        match value["type"].as_str() {
                            Some("next") => {
                                let sent = value["payload"]["data"]["commentAdded"]["content"]
                                    .as_str()
                                    .and_then(|c| c.strip_prefix("t"))
                                    .and_then(|c| c.parse::<u64>().ok());
                                if let Some(sent) = sent {
                                    latencies.lock().await.push(received.saturating_sub(sent));
                                    delivered.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Some("ping") => {
                                let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                            }
                            Some("error") | Some("complete") => {
                                eprintln!("subscription ended: {text}");
                                break;
                            }
                            _ => {}
                        }
                    }
                    Ok(Message::Close(frame)) => {
                        eprintln!("closed by the server: {frame:?}");
                        break;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        eprintln!("socket error: {err}");
                        break;
                    }
                }
            }
            lost.fetch_add(1, Ordering::Relaxed);
        }));
    }
    eprintln!(
        "{} subscribers connected in {:.1} s from {} loopback source addresses",
        args.subscribers,
        opening.elapsed().as_secs_f64(),
        sources.max(1)
    );
    // Let the subscriptions register and the server settle before measuring idle memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = args.pid.map(process_stats);

    let writes = args.rate * args.seconds;
    let interval = Duration::from_micros(1_000_000 / args.rate.max(1));
    let mut ticker = tokio::time::interval(interval);
    let started = Instant::now();
    let mut failed_writes = 0;
    for _ in 0..writes {
        ticker.tick().await;
        let body: Value = http
            .post(format!("{}/graphql", args.url))
            .bearer_auth(&token)
            .json(&json!({
                "query": "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
                "variables": { "i": { "postId": post_id, "content": format!("t{}", now_micros()) } }
            }))
            .send()
            .await
            .expect("write")
            .json()
            .await
            .expect("json");
        if body.get("errors").is_some() {
            failed_writes += 1;
            eprintln!("write failed: {body}");
        }
    }
    // The last events' deliveries.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let wall = started.elapsed().as_secs_f64();
    let after = args.pid.map(process_stats);

    let mut all = latencies.lock().await.clone();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i] as f64 / 1000.0
    };
    let expected = (writes - failed_writes) * args.subscribers as u64;
    let got = delivered.load(Ordering::Relaxed);
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let (idle_per_conn_kib, cpu_cores, rss_mib) = match (before, idle, after) {
        (Some(b), Some(i), Some(a)) => (
            (i.0 as f64 - b.0 as f64) / args.subscribers as f64,
            (a.1 - i.1) as f64 / ticks_per_sec / wall,
            a.0 as f64 / 1024.0,
        ),
        _ => (f64::NAN, f64::NAN, f64::NAN),
    };
    let report = json!({
        "subscribers": args.subscribers,
        "source_addresses": sources.max(1),
        "comments_per_second": args.rate,
        "seconds": args.seconds,
        "writes": writes,
        "failed_writes": failed_writes,
        "deliveries_expected": expected,
        "deliveries": got,
        "subscriptions_lost": lost.load(Ordering::Relaxed),
        "latency_ms": { "p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0) },
        "server": {
            "memory_per_idle_connection_kib": idle_per_conn_kib,
            "cpu_cores_while_writing": cpu_cores,
            "rss_mib_at_end": rss_mib,
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    for reader in readers {
        reader.abort();
    }
}
