//! `moe-tutor experiment` and `moe-tutor stats` through the real binary on the tiny
//! models: the files, the plots, --rerun, knock-outs seen in the traces, refusals.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use moe_tutor::experiments::files::RUN_COLUMNS;
use moe_tutor::routing::trace::read_trace;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moe-tutor"));
    let data = tempfile::tempdir().expect("tempdir").keep();
    c.env("MOE_TUTOR_DATA_DIR", data);
    c.env("MOE_TUTOR_PIP", "false");
    c
}

fn experiment(model: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("experiment")
        .arg("--model")
        .arg(model)
        .args([
            "--prompt",
            "Hello router",
            "--max-tokens",
            "8",
            "--threads",
            "1",
        ])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn runs(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Decode a PNG; returns (width, height, distinct colours seen).
fn decode(path: &Path) -> (u32, u32, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    colours.sort_unstable();
    colours.dedup();
    (info.width, info.height, colours.len())
}

#[test]
fn a_2x2x2_grid_writes_its_files_and_plots_and_reruns_to_the_same_replies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let model = common::tiny_moe();
    let grid = [
        "--temperature",
        "0.2,1.0",
        "--top-p",
        "0.9,1.0",
        "--seed",
        "1,2",
    ];
    let stdout = ok(&experiment(&model, &out, &grid));
    assert!(stdout.contains("8 runs written to"), "{stdout}");

    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), RUN_COLUMNS.join(","));
    assert_eq!(lines.count(), 8);
    let runs = runs(&out);
    assert_eq!(runs.len(), 8);
    for r in &runs {
        assert!(r["tokens"].as_u64().unwrap() >= 1);
        let trace = out.join(r["trace"].as_str().unwrap());
        let recs = read_trace(&std::fs::read_to_string(trace).unwrap()).unwrap();
        assert!(
            recs.iter().all(|t| t.layers.len() == 2),
            "every token routed in both MoE layers"
        );
        let picks: u64 = r["usage"]["picks"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            picks,
            2 * r["tokens"].as_u64().unwrap(),
            "k = 2 picks per generated token"
        );
    }
    // Temperature 1 spreads the sampling distribution more than 0.2.
    let entropy = |t: f64| -> f64 {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r["temperature"].as_f64().unwrap() == t)
            .map(|r| r["mean_entropy"].as_f64().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(entropy(1.0) > entropy(0.2));
    let grid_toml = std::fs::read_to_string(out.join("grid.toml")).unwrap();
    assert!(
        grid_toml.contains("temperature = [0.2, 1.0]"),
        "{grid_toml}"
    );
    assert!(grid_toml.contains("sha256 = \""), "{grid_toml}");

    for name in [
        "usage-r000.png",
        "usage-r007.png",
        "mean_entropy-vs-temperature.png",
        "distinct_2-vs-seed.png",
    ] {
        let (w, h, colours) = decode(&out.join("plots").join(name));
        assert!(w >= 480 && h >= 240, "{name}: {w}x{h}");
        assert!(colours > 10, "{name} holds a drawing, not a blank page");
    }

    // The same grid again: identical replies.
    let again = bin()
        .arg("experiment")
        .arg("--rerun")
        .arg(&out)
        .output()
        .unwrap();
    let text = ok(&again);
    assert!(text.contains("8 of 8 replies match"), "{text}");

    // A tampered reply is found, and the exit status says so.
    let jsonl = std::fs::read_to_string(out.join("runs.jsonl")).unwrap();
    let mut first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    first["reply"] = serde_json::Value::String("not what the model said".into());
    let rest: Vec<&str> = jsonl.lines().skip(1).collect();
    std::fs::write(
        out.join("runs.jsonl"),
        format!("{first}\n{}\n", rest.join("\n")),
    )
    .unwrap();
    let tampered = bin()
        .arg("experiment")
        .arg("--rerun")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(tampered.status.code(), Some(1));
    let text = String::from_utf8_lossy(&tampered.stdout);
    assert!(
        text.contains("7 of 8 replies match") && text.contains("r000 differs"),
        "{text}"
    );
}

#[test]
fn a_knocked_out_expert_is_never_chosen_in_its_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ko");
    let model = common::tiny_moe();
    let args = [
        "--temperature",
        "0.2",
        "--seed",
        "1,2,3",
        "--knock-out",
        "1:3",
        "--knock-out",
        "all:5",
    ];
    ok(&experiment(&model, &out, &args));
    let runs = runs(&out);
    assert_eq!(runs.len(), 6);
    let mut baseline_used = [false; 2];
    let mut differs = false;
    for r in &runs {
        let recs =
            read_trace(&std::fs::read_to_string(out.join(r["trace"].as_str().unwrap())).unwrap())
                .unwrap();
        let knocked = r["interventions"] == "knockout";
        for rec in &recs {
            for l in &rec.layers {
                let has = |e: u16| l.experts.contains(&e);
                if knocked {
                    assert!(
                        !(l.layer == 1 && has(3)),
                        "e3 chosen in layer 1 at pos {}",
                        rec.pos
                    );
                    assert!(!has(5), "e5 chosen in layer {} at pos {}", l.layer, rec.pos);
                } else {
                    baseline_used[0] |= l.layer == 1 && has(3);
                    baseline_used[1] |= has(5);
                }
            }
        }
        if knocked {
            let base = runs.iter().find(|b| b["id"] == r["baseline"]).unwrap();
            differs |= base["reply"] != r["reply"];
            assert!(r["js_baseline"].as_f64().unwrap() > 0.0);
            // KL of the run's own tokens under the knock-out from the plain model's.
            let kl = r["kl_baseline"].as_f64().expect("KL under interventions");
            assert!(kl.is_finite() && kl >= 0.0 && r["kl_note"].is_null(), "{r}");
        }
    }
    assert_eq!(
        baseline_used,
        [true, true],
        "without the knock-out the experts are chosen"
    );
    assert!(differs, "the knock-out changes at least one reply");
    let (w, h, _) = decode(&out.join("plots/usage-diff-knockout-k2.png"));
    assert!(w >= 480 && h >= 240);
}

#[test]
fn impossible_requests_are_refused_before_anything_runs() {
    let model = common::tiny_moe();
    let cases: [(&[&str], &str); 7] = [
        (&["--knock-out", "7:1"], "the model's MoE layers are 1..=2"),
        (&["--knock-out", "0:1"], "layer 0 has no router"),
        (&["--knock-out", "1:8"], "the model's experts are 0..=7"),
        (
            &["--knock-out", "all:0,1,2,3,4,5,6"],
            "keeps only 1 of 8 experts, but each token needs k = 2",
        ),
        (&["--experts-used", "9"], "between 1 and 8"),
        (
            &["--force", "1:0,1,2"],
            "3 experts forced but only k = 2 are chosen",
        ),
        (
            &["--restrict", "all:4"],
            "only 1 of 8 experts left to choose from",
        ),
    ];
    for (args, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("refused");
        let o = experiment(&model, &out, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !out.join("runs.jsonl").exists() && !out.join("traces").exists(),
            "{args:?} ran"
        );
    }
}

#[test]
fn stats_of_a_known_trace() {
    // Layer 1 of E = 4, k = 2: tokens "a" [0,1], "a" [0,1], "b" [0,2], "c" [0,3].
    let line = |id: u32, text: &str, e: [u16; 2]| {
        format!(
            "{{\"v\":1,\"phase\":\"generated\",\"pos\":{id},\"token_id\":{id},\"text\":\"{text}\",\"layers\":[{{\"layer\":1,\"computed\":true,\"experts\":[{},{}],\"weights\":[0.5,0.5],\"probs\":[0.25,0.25,0.25,0.25]}}]}}\n",
            e[0], e[1]
        )
    };
    let trace = [
        line(7, "a", [0, 1]),
        line(7, "a", [0, 1]),
        line(8, "b", [0, 2]),
        line(9, "c", [0, 3]),
    ]
    .concat();
    let path = common::scratch_file("known-trace.jsonl", trace.as_bytes());
    let csv = ok(&bin()
        .arg("stats")
        .arg(&path)
        .args(["--csv", "--capacity", "1.5"])
        .output()
        .unwrap());
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2);
    let f: Vec<&str> = rows[1].split(',').collect();
    // entropy 1.75 ln 2 = 1.213008, /ln 4 = 0.875, CV sqrt(1.5)/2 = 0.612372, max/even 2,
    // capacity ceil(1.5 x 4 x 2 / 4) = 3: one token drops.
    assert_eq!(
        f,
        vec![
            "1", "4", "2", "4", "1.213008", "0.875000", "0.612372", "2.000000", "0.000000", "1.5",
            "3", "1", "1", "0.250000", "4 2 1 1"
        ]
    );
    let text = ok(&bin().arg("stats").arg(&path).output().unwrap());
    assert!(text.contains("e0+e1 x2"), "{text}");
    assert!(text.contains("\"a\" x2"), "{text}");
    let json = ok(&bin()
        .arg("stats")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["layers"][0]["coactivation"][0],
        serde_json::json!([4, 2, 1, 1])
    );
    let bad = bin()
        .arg("stats")
        .arg(&path)
        .args(["--capacity", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn force_and_restrict_flags_steer_every_token_of_their_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("steer");
    let model = common::tiny_moe();
    let args = ["--seed", "1,2", "--force", "2:6", "--restrict", "1:0,1,2"];
    ok(&experiment(&model, &out, &args));
    let runs = runs(&out);
    assert_eq!(runs.len(), 4);
    let mut seen_free = false;
    for r in &runs {
        let steered = r["interventions"] == "force+restrict";
        assert!(steered || r["interventions"] == "baseline", "{r}");
        let recs =
            read_trace(&std::fs::read_to_string(out.join(r["trace"].as_str().unwrap())).unwrap())
                .unwrap();
        assert!(!recs.is_empty());
        for rec in &recs {
            for l in rec.layers.iter().filter(|l| l.computed) {
                if !steered {
                    seen_free |= (l.layer == 2 && !l.experts.contains(&6))
                        || (l.layer == 1 && l.experts.iter().any(|&e| e > 2));
                } else if l.layer == 2 {
                    assert!(l.experts.contains(&6), "pos {}: {:?}", rec.pos, l.experts);
                } else if l.layer == 1 {
                    assert!(
                        l.experts.iter().all(|&e| e <= 2),
                        "pos {}: {:?}",
                        rec.pos,
                        l.experts
                    );
                }
            }
        }
    }
    assert!(seen_free, "without the set, the routers choose otherwise");
    let csv = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",reply,error"));
}
