//! The markdown summary: targets first, then every scenario's table.

use std::fmt::Write;

use serde_json::Value;

use super::rss_per_10k_kib;

/// kube-apiserver's default `--request-timeout` (the benchmark keeps it).
const KUBE_REQUEST_TIMEOUT_MS: f64 = 60_000.0;

pub fn summary(results: &Value, latency_png: &str, memory_png: &str) -> String {
    let crd = &results["systems"]["crd"];
    let ours = &results["systems"]["prepull"];
    let setup = &results["setup"];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Prepull versus kube-apiserver with CRDs ({})\n",
        results["date"].as_str().unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "`bench/run.sh` on {} cores ({}). Each system on its own etcd, measured one after the \
         other by the same load generator. Setup: {}.\n",
        results["machine"]["cores"],
        results["machine"]["cpu"].as_str().unwrap_or("?"),
        setup
    );

    out.push_str("## Targets\n\n| measure | kube-apiserver + CRDs | Prepull | Prepull / CRD | target | met |\n|---|---|---|---|---|---|\n");
    for op in ["create", "update", "status_patch"] {
        let c = crd["writes"][op]["64"]["per_second"].as_f64();
        let p = ours["writes"][op]["64"]["per_second"].as_f64();
        target_row(
            &mut out,
            &format!("{op} at 64 clients, per second"),
            c,
            p,
            3.0,
            true,
        );
    }
    let c = crd["lists"][0]["list"]["p99_ms"].as_f64();
    let p = ours["lists"][0]["list"]["p99_ms"].as_f64();
    target_row(
        &mut out,
        &format!("list of {} x 2 KB, p99 ms", setup["objects"]),
        c,
        p,
        1.0 / 3.0,
        false,
    );
    let c = rss_per_10k_kib(crd, setup).map(|k| k / 1024.0);
    let p = rss_per_10k_kib(ours, setup).map(|k| k / 1024.0);
    target_row(
        &mut out,
        "RSS per 10k NodeImages (2 KB), MiB",
        c,
        p,
        0.2,
        false,
    );
    let p99 = ours["watch"]["delivery"]["p99_ms"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let _ = writeln!(
        out,
        "| watch delivery p99 with {} watchers, ms | {} | {} | | <= 100 ms | {} |",
        ours["watch"]["watchers"],
        crd["watch"]["delivery"]["p99_ms"],
        p99,
        if p99 <= 100.0 { "yes" } else { "**no**" }
    );

    out.push_str("\n## S1 writes (ImagePullJobs)\n\n| operation | clients | CRD p50 ms | CRD p99 ms | CRD /s | Prepull p50 ms | Prepull p99 ms | Prepull /s | ratio /s | CRD server CPU s | Prepull server CPU s | generator CPU s (CRD / Prepull) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for op in ["create", "update", "status_patch"] {
        for clients in ["1", "16", "64"] {
            let c = &crd["writes"][op][clients];
            let p = &ours["writes"][op][clients];
            let _ = writeln!(
                out,
                "| {op} | {clients} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
                c["p50_ms"],
                c["p99_ms"],
                c["per_second"],
                p["p50_ms"],
                p["p99_ms"],
                p["per_second"],
                ratio(c["per_second"].as_f64(), p["per_second"].as_f64()),
                c["server_cpu_s"],
                p["server_cpu_s"],
                c["generator_cpu_s"],
                p["generator_cpu_s"]
            );
        }
    }

    out.push_str("\n## S2 lists (whole list of every NodeImage)\n\n| object size | CRD p50 ms | CRD p99 ms | CRD MB/s | Prepull p50 ms | Prepull p99 ms | Prepull MB/s | p99 ratio | response bytes (CRD / Prepull) |\n|---|---|---|---|---|---|---|---|---|\n");
    let crd_lists = crd["lists"].as_array().cloned().unwrap_or_default();
    let our_lists = ours["lists"].as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for (c, p) in crd_lists.iter().zip(&our_lists) {
        let size = &c["object_bytes"];
        let mut cells = |system: &str, list: &Value| -> [String; 3] {
            match list["list"]["error"].as_str() {
                Some(error) => {
                    failures.push(format!("- {size} B, {system}: {}", error.trim()));
                    ["failed".into(), "failed".into(), String::new()]
                }
                None => {
                    ["p50_ms", "p99_ms", "mb_per_s_at_p50"].map(|k| list["list"][k].to_string())
                }
            }
        };
        let [c50, c99, cmb] = cells("CRD", c);
        let [p50, p99, pmb] = cells("Prepull", p);
        // A list kube-apiserver gave up on took at least its request timeout.
        let ratio = match (c["list"]["error"].as_str(), p["list"]["p99_ms"].as_f64()) {
            (Some(error), Some(ours)) if error.contains("504") => {
                format!("< {:.2}", ours / KUBE_REQUEST_TIMEOUT_MS)
            }
            _ => ratio(c["list"]["p99_ms"].as_f64(), p["list"]["p99_ms"].as_f64()),
        };
        let _ = writeln!(
            out,
            "| {size} B | {c50} | {c99} | {cmb} | {p50} | {p99} | {pmb} | {ratio} | {} / {} |",
            bytes(&c["list"]["response_bytes"]),
            bytes(&p["list"]["response_bytes"])
        );
    }
    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "\nLists that failed (a 504 is kube-apiserver's {} s request timeout; the p99 ratio \
             is then bounded by it):\n\n{}",
            KUBE_REQUEST_TIMEOUT_MS / 1000.0,
            failures.join("\n")
        );
    }

    out.push_str("\n## S3 watch fan-out\n\n| system | watchers | writes | delivered | missing | delivery p50 ms | p99 ms | max ms | server CPU ms per event | generator CPU s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for system in [crd, ours] {
        let w = &system["watch"];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            system["name"].as_str().unwrap_or_default(),
            w["watchers"],
            w["writes"],
            w["events_delivered"],
            w["events_missing"],
            w["delivery"]["p50_ms"],
            w["delivery"]["p99_ms"],
            w["delivery"]["max_ms"],
            w["server_cpu_ms_per_event"],
            w["generator_cpu_s"]
        );
    }

    out.push_str("\n## S4 memory (server RSS after a whole list)\n\n| system | idle MiB | ");
    let _ = writeln!(
        out,
        "{} NodeImages MiB | {} NodeImages MiB | per 10k MiB | etcd MiB at {} |\n|---|---|---|---|---|---|",
        setup["objects"], setup["large_objects"], setup["large_objects"]
    );
    for system in [crd, ours] {
        let mib = |v: &Value| {
            v.as_f64()
                .map(|k| format!("{:.1}", k / 1024.0))
                .unwrap_or_default()
        };
        let m = &system["memory"];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            system["name"].as_str().unwrap_or_default(),
            mib(&m["idle"]["rss_kib"]),
            mib(&m["objects"]["rss_kib"]),
            mib(&m["large_objects"]["rss_kib"]),
            rss_per_10k_kib(system, setup)
                .map(|k| format!("{:.1}", k / 1024.0))
                .unwrap_or_default(),
            mib(&m["large_objects"]["etcd_rss_kib"])
        );
    }
    hop_table(&mut out, &results["aggregation_hop"]);
    let _ = writeln!(
        out,
        "\n## Charts\n\n![write latency]({latency_png})\n\n![memory]({memory_png})"
    );
    out
}

/// S5: each measurement directly and through kube-apiserver, with the added latency.
fn hop_table(out: &mut String, hop: &Value) {
    if hop.is_null() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## S5 the aggregation hop ({} {}s; Prepull in cluster mode)\n\n| measure | direct p50 ms | direct p99 ms | direct /s | through kube-apiserver p50 ms | p99 ms | /s | added p50 ms |\n|---|---|---|---|---|---|---|---|",
        hop["objects"],
        hop["kind"].as_str().unwrap_or("object")
    );
    for (key, name) in [
        ("get_1_client", "GET one, 1 client"),
        ("get_16_clients", "GET one, 16 clients"),
        ("create_16_clients", "create, 16 clients"),
        ("list", "list all"),
    ] {
        let d = &hop["direct"][key];
        let k = &hop["through_kube"][key];
        let added = match (d["p50_ms"].as_f64(), k["p50_ms"].as_f64()) {
            (Some(d), Some(k)) => format!("{:.2}", k - d),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {added} |",
            d["p50_ms"], d["p99_ms"], d["per_second"], k["p50_ms"], k["p99_ms"], k["per_second"]
        );
    }
}

/// A byte count, or nothing for a list that failed.
fn bytes(value: &Value) -> String {
    value.as_u64().map(|b| b.to_string()).unwrap_or_default()
}

fn ratio(crd: Option<f64>, ours: Option<f64>) -> String {
    match (crd, ours) {
        (Some(c), Some(p)) if c > 0.0 => format!("{:.2}", p / c),
        _ => String::new(),
    }
}

/// A target row; `higher_is_better` says whether the ratio must reach `target` or stay under it.
fn target_row(
    out: &mut String,
    name: &str,
    crd: Option<f64>,
    ours: Option<f64>,
    target: f64,
    higher_is_better: bool,
) {
    let shown = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let r = match (crd, ours) {
        (Some(c), Some(p)) if c > 0.0 => Some(p / c),
        _ => None,
    };
    let met = r.map(|r| {
        if higher_is_better {
            r >= target
        } else {
            r <= target
        }
    });
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} {target:.2}x | {} |",
        shown(crd),
        shown(ours),
        r.map(|r| format!("{r:.2}x")).unwrap_or_default(),
        if higher_is_better { ">=" } else { "<=" },
        match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "?",
        }
    );
}
