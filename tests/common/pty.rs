//! The real binary in a pseudo-terminal, its screen read back through a VT100 parser.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

pub struct Tui {
    pub parser: Arc<Mutex<vt100::Parser>>,
    pub writer: Box<dyn Write + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub master: Box<dyn portable_pty::MasterPty + Send>,
    _data: tempfile::TempDir,
}

impl Tui {
    /// Start `moe-tutor ARGS` in a `cols` x `rows` terminal with its own data directory.
    pub fn start(args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::start_under(&[], args, cols, rows)
    }

    /// The same, run through `wrapper` (e.g. `sh -c 'umask 022; exec "$0" "$@"'`), which
    /// gets the binary's path and `args` after its own arguments.
    pub fn start_under(wrapper: &[&str], args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::spawn(wrapper, &[], args, cols, rows)
    }

    /// Start `moe-tutor ARGS` with the variables `env` set besides the usual ones.
    pub fn start_with_env(env: &[(&str, &str)], args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::spawn(&[], env, args, cols, rows)
    }

    fn spawn(wrapper: &[&str], env: &[(&str, &str)], args: &[&str], cols: u16, rows: u16) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_moe-tutor");
        let mut cmd = match wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = CommandBuilder::new(prog);
                c.args(rest);
                c.arg(bin);
                c
            }
            None => CommandBuilder::new(bin),
        };
        cmd.args(args);
        cmd.env("MOE_TUTOR_DATA_DIR", data.path());
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let p = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
            }
        });
        Tui {
            parser,
            writer,
            child,
            master: pair.master,
            _data: data,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// Resize the terminal and the parser that reads it back.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        self.parser.lock().unwrap().set_size(rows, cols);
    }

    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    pub fn send(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Wait (up to two minutes) until `ok` holds for the screen text; returns that screen.
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "app did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
