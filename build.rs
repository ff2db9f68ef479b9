//! Build script. Only the `rpc` feature does anything here: it compiles llama.cpp's RPC
//! backend (`ggml/src/ggml-rpc/ggml-rpc.cpp`), which the pinned llama-cpp-sys-2 0.1.139
//! leaves out of the llama.cpp it vendors, and links it with the pin's ggml.
//!
//! The source is fetched at build time, like any other dependency, and never kept in this
//! repository: the llama-cpp-python 0.3.17 sdist on PyPI vendors a llama.cpp whose ggml
//! headers match the pin's (`ggml-backend.h`, `ggml-backend-impl.h`, `ggml-impl.h`,
//! `ggml-rpc.h` and `gguf.h` byte for byte; `ggml.h` adds one deprecated function, so
//! `GGML_OP_COUNT`, which the RPC protocol asserts on, is the same). The file is checked
//! against its sha256 before use.
//!
//! Where the sdist comes from: `$MOE_TUTOR_RPC_SDIST` (a path to the .tar.gz) when set;
//! else the build cache (`$XDG_CACHE_HOME/moe-tutor/build/`, else
//! `~/.cache/moe-tutor/build/`), where it is downloaded once with pip.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "rpc")]
    rpc::build();
}

#[cfg(feature = "rpc")]
mod rpc {
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const REQUIREMENT: &str = "llama-cpp-python==0.3.17";
    const SDIST: &str = "llama_cpp_python-0.3.17.tar.gz";
    /// PyPI's sha256 of [`SDIST`].
    const SHA256: &str = "39c31948d234ff351bf638f1e468d893dd29282dd4d47716a39c6a0a1e63b123";
    /// ggml inside the sdist.
    const GGML: &str = "llama_cpp_python-0.3.17/vendor/llama.cpp/ggml";
    const ENV: &str = "MOE_TUTOR_RPC_SDIST";

    pub fn build() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        let sdist = sdist(&out);
        let ggml = extract(&sdist, &out);
        cc::Build::new()
            .cpp(true)
            .std("c++17")
            .opt_level(2)
            .debug(false)
            .warnings(false)
            .define("NDEBUG", None)
            .include(ggml.join("include"))
            .include(ggml.join("src"))
            .file(ggml.join("src/ggml-rpc/ggml-rpc.cpp"))
            .compile("moe_tutor_ggml_rpc");
    }

    fn pip_command(dir: &Path) -> String {
        format!(
            "python3 -m pip download --no-deps --no-binary :all: {REQUIREMENT} -d {}",
            dir.display()
        )
    }

    fn cache_dir(out: &Path) -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| out.to_path_buf());
        base.join("moe-tutor").join("build")
    }

    /// The checked sdist: given, cached, or downloaded into the cache now.
    fn sdist(out: &Path) -> PathBuf {
        println!("cargo:rerun-if-env-changed={ENV}");
        if let Some(given) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
            let given = PathBuf::from(given);
            println!("cargo:rerun-if-changed={}", given.display());
            check(&given, &format!("{ENV}={}", given.display()));
            return given;
        }
        let dir = cache_dir(out);
        let path = dir.join(SDIST);
        if !path.is_file() {
            download(&dir, &path);
        }
        check(&path, &path.display().to_string());
        path
    }

    fn download(dir: &Path, path: &Path) {
        let tmp = dir.join(format!("download-{}", std::process::id()));
        let how = format!(
            "the `rpc` feature builds llama.cpp's RPC backend from the {REQUIREMENT} sdist \
             (PyPI). Download it yourself and point the build at it:\n    {}\n    \
             {ENV}=DIR/{SDIST} cargo build --release --features rpc",
            pip_command(Path::new("DIR"))
        );
        if let Err(e) = std::fs::create_dir_all(&tmp) {
            panic!("cannot create {}: {e}\n{how}", tmp.display());
        }
        // Not a cargo warning: cargo would repeat it on every later build of the crate.
        eprintln!(
            "downloading {REQUIREMENT}'s sdist (59 MB) for the RPC backend: {}",
            pip_command(&tmp)
        );
        let status = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:"])
            .arg(REQUIREMENT)
            .arg("-d")
            .arg(&tmp)
            .status();
        let got = tmp.join(SDIST);
        match status {
            Ok(s) if s.success() && got.is_file() => {}
            Ok(s) => panic!("pip download failed ({s})\n{how}"),
            Err(e) => panic!("could not run python3 -m pip: {e}\n{how}"),
        }
        if let Err(e) = std::fs::rename(&got, path) {
            panic!("cannot move {} to {}: {e}", got.display(), path.display());
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn check(path: &Path, shown: &str) {
        use sha2::Digest;
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => panic!("{shown}: {e}"),
        };
        let mut hash = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hash.update(&buf[..n]),
                Err(e) => panic!("{shown}: {e}"),
            }
        }
        let got: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if got != SHA256 {
            panic!(
                "{shown}: sha256 {got}, expected {SHA256} ({SDIST} from PyPI); delete it to \
                 download it again"
            );
        }
    }

    /// Unpack the ggml headers and the RPC backend's source into OUT_DIR; their ggml folder.
    fn extract(sdist: &Path, out: &Path) -> PathBuf {
        let dest = out.join("sdist");
        let ggml = dest.join(GGML);
        if ggml.join("src/ggml-rpc/ggml-rpc.cpp").is_file() {
            return ggml;
        }
        if let Err(e) = std::fs::create_dir_all(&dest) {
            panic!("cannot create {}: {e}", dest.display());
        }
        let members = [
            "include",
            "src/ggml-impl.h",
            "src/ggml-backend-impl.h",
            "src/ggml-rpc/ggml-rpc.cpp",
        ];
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(sdist)
            .arg("-C")
            .arg(&dest)
            .args(members.iter().map(|m| format!("{GGML}/{m}")))
            .status();
        match status {
            Ok(s) if s.success() => ggml,
            Ok(s) => panic!("tar could not unpack {} ({s})", sdist.display()),
            Err(e) => panic!("could not run tar to unpack {}: {e}", sdist.display()),
        }
    }
}
