//! Test servers shared by the notification tests: aiosmtpd from the test virtualenv.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moose_notify::{EmailSender, SmtpSettings, SmtpTls};

/// An aiosmtpd process, killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    pub maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A handler that answers every RCPT TO with a fixed reply, to provoke 4xx/5xx errors.
const REJECT_HANDLER: &str = r#"
class Reject:
    def __init__(self, reply):
        self.reply = reply

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(" ".join(args))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply
"#;

pub fn python() -> String {
    std::env::var("MOOSE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "MOOSE_TEST_PYTHON is not set: run the tests through ./scripts/test, which installs \
             aiosmtpd into its virtualenv and points MOOSE_TEST_PYTHON at its python"
        )
    })
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl SmtpServer {
    /// Accepts everything into a Maildir.
    pub fn mailbox() -> Self {
        Self::start(|cmd, maildir| {
            cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(maildir);
        })
    }

    /// Answers every recipient with `reply`, e.g. `550 5.1.1 no such user`.
    pub fn rejecting(reply: &str) -> Self {
        Self::start(|cmd, maildir| {
            let dir = maildir.parent().unwrap();
            std::fs::write(dir.join("moose_reject.py"), REJECT_HANDLER).unwrap();
            cmd.env("PYTHONPATH", dir)
                .args(["-c", "moose_reject.Reject"])
                .args(reply.split(' '));
        })
    }

    fn start(configure: impl FnOnce(&mut Command, &Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = free_port();
        let mut cmd = Command::new(python());
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        configure(&mut cmd, &maildir);
        let child = cmd.spawn().expect("start aiosmtpd");
        let mut server = Self {
            child,
            port,
            _dir: dir,
            maildir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("aiosmtpd exited early with {status}; is aiosmtpd installed?");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn sender(&self) -> EmailSender {
        EmailSender::new(&settings(self.port)).unwrap()
    }

    /// The one delivered mail's raw text, waiting for it to arrive.
    pub fn wait_for_mail(&self) -> String {
        let new = self.maildir.join("new");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(entries) = std::fs::read_dir(&new) {
                let files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
                if let [file] = files.as_slice() {
                    return std::fs::read_to_string(file).unwrap();
                }
                assert!(files.len() <= 1, "expected one mail, got {files:?}");
            }
            assert!(
                Instant::now() < deadline,
                "no mail arrived in {}",
                new.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        username: None,
        password: None,
        from: "Moose Alerts <alerts@moose.test>".to_owned(),
        tls: SmtpTls::None,
    }
}

impl SmtpServer {
    /// Every delivered mail's raw text so far.
    pub fn mails(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|entries| {
                entries
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}
