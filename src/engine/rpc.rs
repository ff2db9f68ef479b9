//! llama.cpp's RPC backend: `--rpc HOST:PORT,...` puts model layers on `moe-tutor
//! rpc-server` workers, which run them on their own CPU (or GPU) through ggml's RPC
//! protocol. The backend's C++ source is compiled in by the `rpc` feature (build.rs); a
//! binary built without it refuses `--rpc` and `rpc-server` with [`NOT_BUILT`].
//!
//! ggml keeps one backend registry per process, so the servers are a process setting
//! ([`set_servers`], once at start) and are registered once each, on the engine thread,
//! just before the first model load ([`ensure_registered`]). llama.cpp then offers every
//! registered RPC device as an offload target, ahead of local GPUs, and `--gpu-layers`
//! decides how many layers go to them (all by default).
//!
//! Unsafe code here: the three entry points of ggml-rpc and the registry calls around them.

use std::sync::OnceLock;

/// Whether this binary has llama.cpp's RPC backend (`--features rpc`).
pub const BUILT_IN: bool = cfg!(feature = "rpc");

/// What a binary without the RPC backend says to `--rpc` and `rpc-server`.
pub const NOT_BUILT: &str = "this moe-tutor was built without llama.cpp's RPC backend; build it \
     with it: cargo build --release --features rpc (README, \"Several machines (RPC)\")";

static SERVERS: OnceLock<Vec<String>> = OnceLock::new();

/// The RPC servers every model of this process is spread over (`--rpc`). Only the first
/// call counts.
pub fn set_servers(endpoints: Vec<String>) {
    let _ = SERVERS.set(endpoints);
}

/// The servers given to [`set_servers`] (none: everything runs in this process).
pub fn servers() -> &'static [String] {
    SERVERS.get().map_or(&[], Vec::as_slice)
}

/// One `HOST:PORT` of `--rpc` (a host name or IPv4 address; ggml's client splits at the
/// first colon, so IPv6 literals are refused here rather than misread there).
pub fn parse_endpoint(s: &str) -> Result<String, String> {
    let s = s.trim();
    let Some((host, port)) = s.split_once(':') else {
        return Err(format!("'{s}' is not HOST:PORT"));
    };
    if host.is_empty() || port.contains(':') {
        return Err(format!(
            "'{s}' is not HOST:PORT (a host name or IPv4 address; IPv6 is not supported by \
             llama.cpp's RPC client)"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(s.to_string()),
        _ => Err(format!("'{s}': the port must be a number from 1 to 65535")),
    }
}

/// Register the [`servers`] with ggml, each once per process; a no-op without servers.
/// Call it on the engine thread before loading a model. A server that does not answer
/// (or speaks another protocol version) is an error naming it.
pub(crate) fn ensure_registered() -> Result<(), String> {
    let servers = servers();
    if servers.is_empty() {
        return Ok(());
    }
    imp::register(servers)
}

/// How a worker runs (`moe-tutor rpc-server`).
pub struct ServeOptions<'a> {
    /// An IPv4 address (ggml's server takes no host names).
    pub host: &'a str,
    pub port: u16,
    /// CPU threads of its CPU backend.
    pub threads: usize,
    /// Where ggml's server keeps the large tensors clients send (by hash), so the next load
    /// of the same model can skip sending them; `None`: no cache.
    pub cache: Option<&'a std::path::Path>,
}

/// Run a worker: ggml's RPC server with this machine's GPUs (when the binary has a GPU
/// backend) or else its CPU. `ready` is called with the endpoint once the port accepts
/// connections. Returns only when the server could not start or stopped: the message.
pub fn serve(opts: &ServeOptions<'_>, ready: &(dyn Fn(&str) + Sync)) -> String {
    imp::serve(opts, ready)
}

/// Whether `host` is a loopback address: anything else exposes the worker, and the RPC
/// protocol has no authentication.
pub fn is_loopback(host: &str) -> bool {
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(not(feature = "rpc"))]
mod imp {
    pub(super) fn register(_servers: &[String]) -> Result<(), String> {
        Err(format!("--rpc: {}", super::NOT_BUILT))
    }

    pub(super) fn serve(_: &super::ServeOptions<'_>, _: &(dyn Fn(&str) + Sync)) -> String {
        format!("rpc-server: {}", super::NOT_BUILT)
    }
}

#[cfg(feature = "rpc")]
mod imp {
    use std::ffi::{c_char, CString};
    use std::sync::Mutex;

    use llama_cpp_sys_2::{ggml_backend_dev_t, ggml_backend_reg_t};

    // ggml-rpc.h of the llama.cpp that build.rs compiles (RPC protocol 3.6.1).
    extern "C" {
        fn ggml_backend_rpc_reg() -> ggml_backend_reg_t;
        fn ggml_backend_rpc_add_server(endpoint: *const c_char) -> ggml_backend_reg_t;
        fn ggml_backend_rpc_start_server(
            endpoint: *const c_char,
            cache_dir: *const c_char,
            n_threads: usize,
            n_devices: usize,
            devices: *mut ggml_backend_dev_t,
        );
    }

    /// What this process has registered with ggml so far.
    struct Registered {
        /// The backend's own (empty) registry entry.
        base: bool,
        endpoints: Vec<String>,
    }

    static REGISTERED: Mutex<Registered> = Mutex::new(Registered {
        base: false,
        endpoints: Vec::new(),
    });

    pub(super) fn register(servers: &[String]) -> Result<(), String> {
        super::super::backend()?;
        let mut done = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        if !done.base {
            // SAFETY: ggml_backend_rpc_reg returns a pointer to a static registry entry
            // with no devices; registering it once per process (`done.base`, under the
            // lock) is what an upstream build with GGML_USE_RPC does at start, and is how
            // llama_supports_rpc and llama_supports_gpu_offload find the backend (by the
            // name "RPC").
            unsafe { llama_cpp_sys_2::ggml_backend_register(ggml_backend_rpc_reg()) };
            done.base = true;
        }
        for endpoint in servers {
            if done.endpoints.contains(endpoint) {
                continue;
            }
            let c = CString::new(endpoint.as_str())
                .map_err(|_| format!("--rpc: '{endpoint}' contains a NUL byte"))?;
            // SAFETY: `c` is a NUL-terminated string alive for the call; ggml copies it.
            // The call connects to the server and asks for its devices; it returns null
            // when the server cannot be reached or speaks another protocol version.
            let reg = unsafe { ggml_backend_rpc_add_server(c.as_ptr()) };
            if reg.is_null() {
                return Err(format!(
                    "--rpc: no RPC server answered at {endpoint} (is `moe-tutor rpc-server` \
                     of this version running there, and is the port reachable?)"
                ));
            }
            // SAFETY: `reg` is the non-null registry entry ggml just made for this server
            // (it lives for the rest of the process); each endpoint is registered once
            // (`done.endpoints`), so no device is listed twice.
            unsafe { llama_cpp_sys_2::ggml_backend_register(reg) };
            done.endpoints.push(endpoint.clone());
            tracing::info!("RPC server {endpoint} registered");
        }
        Ok(())
    }

    /// The cache folder, created if needed, as the C string ggml takes.
    fn cache_dir(dir: &std::path::Path) -> Result<CString, String> {
        use std::os::unix::ffi::OsStrExt;
        crate::store::private::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| format!("{} contains a NUL byte", dir.display()))
    }

    /// The devices a worker serves: every GPU this binary can drive, else the CPU.
    fn devices() -> Vec<ggml_backend_dev_t> {
        use llama_cpp_sys_2::{
            GGML_BACKEND_DEVICE_TYPE_CPU, GGML_BACKEND_DEVICE_TYPE_GPU,
            GGML_BACKEND_DEVICE_TYPE_IGPU,
        };
        // SAFETY: the registry calls only read ggml's process-wide device list, filled
        // when the backend was initialised; the indices are below the count it reports.
        unsafe {
            let gpus: Vec<_> = (0..llama_cpp_sys_2::ggml_backend_dev_count())
                .map(|i| llama_cpp_sys_2::ggml_backend_dev_get(i))
                .filter(|&d| {
                    !d.is_null() && {
                        let t = llama_cpp_sys_2::ggml_backend_dev_type(d);
                        t == GGML_BACKEND_DEVICE_TYPE_GPU || t == GGML_BACKEND_DEVICE_TYPE_IGPU
                    }
                })
                .collect();
            if !gpus.is_empty() {
                return gpus;
            }
            let cpu = llama_cpp_sys_2::ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
            if cpu.is_null() {
                Vec::new()
            } else {
                vec![cpu]
            }
        }
    }

    pub(super) fn serve(opts: &super::ServeOptions<'_>, ready: &(dyn Fn(&str) + Sync)) -> String {
        let (host, port) = (opts.host, opts.port);
        let endpoint = format!("{host}:{port}");
        // ggml's server says only "Failed to create server socket": find out first.
        if let Err(e) = std::net::TcpListener::bind((host, port)) {
            return format!("rpc-server: cannot listen on {endpoint}: {e}");
        }
        if let Err(e) = super::super::backend() {
            return format!("rpc-server: {e}");
        }
        let mut devices = devices();
        if devices.is_empty() {
            return "rpc-server: llama.cpp reports no device to serve".into();
        }
        let Ok(c) = CString::new(endpoint.clone()) else {
            return format!("rpc-server: '{endpoint}' contains a NUL byte");
        };
        let cache = match opts.cache.map(cache_dir).transpose() {
            Ok(c) => c,
            Err(e) => return format!("rpc-server: --cache: {e}"),
        };
        let cache_ptr = cache.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        std::thread::scope(|s| {
            s.spawn(|| {
                if super::listening::wait(port) {
                    ready(&endpoint);
                }
            });
            // SAFETY: `c` and `cache` are NUL-terminated strings alive for the call (which
            // runs until the process ends, or returns on failure); a null cache directory
            // switches the server's tensor cache off. `devices` holds `len` valid device
            // pointers from ggml's registry, alive for the process. ggml creates its
            // backends on these devices itself.
            unsafe {
                ggml_backend_rpc_start_server(
                    c.as_ptr(),
                    cache_ptr,
                    opts.threads.max(1),
                    devices.len(),
                    devices.as_mut_ptr(),
                );
            }
            super::listening::give_up();
        });
        format!("rpc-server: the RPC server on {endpoint} stopped (see the lines above)")
    }
}

/// When the worker's port starts accepting: the kernel's table of listening sockets on
/// Linux (no connection is made, so the server's log shows only real clients); elsewhere
/// a connection attempt.
#[cfg(feature = "rpc")]
mod listening {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    static GIVE_UP: AtomicBool = AtomicBool::new(false);

    /// Stop [`wait`]: the server returned without listening.
    pub(super) fn give_up() {
        GIVE_UP.store(true, Ordering::SeqCst);
    }

    /// Wait until a socket listens on `port` (this process checked that it could bind the
    /// port, so it is the server's); false if [`give_up`] came first.
    pub(super) fn wait(port: u16) -> bool {
        while !GIVE_UP.load(Ordering::SeqCst) {
            if listens(port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn listens(port: u16) -> bool {
        let tables = ["/proc/self/net/tcp", "/proc/self/net/tcp6"];
        let mut found_table = false;
        for t in tables {
            let Ok(text) = std::fs::read_to_string(t) else {
                continue;
            };
            found_table = true;
            if text.lines().skip(1).any(|l| listening_on(l, port)) {
                return true;
            }
        }
        !found_table && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }

    /// A line of /proc/net/tcp: `sl local_address rem_address st ...`, the address as
    /// HEX_IP:HEX_PORT, state 0A = LISTEN.
    pub(super) fn listening_on(line: &str, port: u16) -> bool {
        let mut f = line.split_whitespace();
        let (Some(_), Some(local), Some(_), Some(state)) = (f.next(), f.next(), f.next(), f.next())
        else {
            return false;
        };
        state == "0A"
            && local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_host_colon_port() {
        assert_eq!(parse_endpoint(" 10.0.0.2:50052").unwrap(), "10.0.0.2:50052");
        assert_eq!(parse_endpoint("gpu-box:1").unwrap(), "gpu-box:1");
        for bad in ["10.0.0.2", ":50052", "h:0", "h:70000", "h:x", "::1:50052"] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        assert!(is_loopback("127.0.0.1") && !is_loopback("0.0.0.0") && !is_loopback("10.1.2.3"));
    }

    #[cfg(not(feature = "rpc"))]
    #[test]
    fn without_the_feature_servers_are_refused() {
        let e = imp::register(&["127.0.0.1:1".into()]).unwrap_err();
        assert!(e.contains("--features rpc"), "{e}");
        let opts = ServeOptions {
            host: "127.0.0.1",
            port: 1,
            threads: 1,
            cache: None,
        };
        assert!(serve(&opts, &|_| {}).contains("--features rpc"));
    }

    #[cfg(feature = "rpc")]
    #[test]
    fn proc_net_tcp_lines_are_read() {
        let l = "   0: 0100007F:C350 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0";
        assert!(listening::listening_on(l, 50000));
        assert!(!listening::listening_on(l, 50001));
        let established = l.replace(" 0A ", " 01 ");
        assert!(!listening::listening_on(&established, 50000));
    }
}
