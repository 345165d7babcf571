//! E-mail delivery against a real SMTP server: aiosmtpd from the test virtualenv, started on a
//! free loopback port for each test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moose_notify::{DeliveryError, EmailSender, OutgoingMessage, SmtpSettings, SmtpTls};
use serde_json::json;

/// An aiosmtpd process, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    maildir: PathBuf,
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

fn python() -> String {
    std::env::var("MOOSE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "MOOSE_TEST_PYTHON is not set: run the tests through ./scripts/test, which installs \
             aiosmtpd into its virtualenv and points MOOSE_TEST_PYTHON at its python"
        )
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl SmtpServer {
    /// Accepts everything into a Maildir.
    fn mailbox() -> Self {
        Self::start(|cmd, maildir| {
            cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(maildir);
        })
    }

    /// Answers every recipient with `reply`, e.g. `550 5.1.1 no such user`.
    fn rejecting(reply: &str) -> Self {
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

    fn sender(&self) -> EmailSender {
        EmailSender::new(&settings(self.port)).unwrap()
    }

    /// The one delivered mail's raw text, waiting for it to arrive.
    fn wait_for_mail(&self) -> String {
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

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        username: None,
        password: None,
        from: "Moose Alerts <alerts@moose.test>".to_owned(),
        tls: SmtpTls::None,
    }
}

fn message() -> OutgoingMessage {
    OutgoingMessage {
        idempotency_key: "incident:42/opened:user-7".to_owned(),
        event: "incident.opened".to_owned(),
        severity: "critical".to_owned(),
        subject: "Inverter offline at Farm North".to_owned(),
        text: "Inverter 3 at Farm North has reported no data since 10:15.".to_owned(),
        link: Some("https://moose.example.com/incidents/42".to_owned()),
        payload: json!({"incident": 42}),
    }
}

/// The value of header `name` in the raw mail (single-line headers only).
fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let head = mail.split("\n\n").next().unwrap();
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn delivers_a_plain_text_mail_with_stable_message_id() {
    let server = SmtpServer::mailbox();
    server
        .sender()
        .send("Operator <ops@example.com>", &message())
        .await
        .expect("delivered");

    let mail = server.wait_for_mail().replace("\r\n", "\n");
    assert_eq!(
        header(&mail, "Subject"),
        Some("Inverter offline at Farm North")
    );
    assert_eq!(header(&mail, "To"), Some("Operator <ops@example.com>"));
    assert_eq!(
        header(&mail, "From"),
        Some("\"Moose Alerts\" <alerts@moose.test>")
    );
    let id = header(&mail, "Message-ID").expect("Message-ID");
    // ':' is not allowed in a msg-id ('/' is), so the key is sanitised and a hash appended.
    assert!(id.starts_with("<incident-42/opened-user-7-"), "{id}");
    assert!(id.ends_with("@moose>"), "{id}");
    assert_eq!(header(&mail, "X-Moose-Event"), Some("incident.opened"));
    assert!(
        header(&mail, "Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    let body = mail.split_once("\n\n").unwrap().1;
    assert_eq!(
        body.trim_end(),
        "Inverter 3 at Farm North has reported no data since 10:15.\n\n\
         https://moose.example.com/incidents/42"
    );
}

#[tokio::test]
async fn message_id_is_the_same_for_a_resend() {
    let first = SmtpServer::mailbox();
    first
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap();
    let second = SmtpServer::mailbox();
    second
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap();
    let id = |mail: &str| header(mail, "Message-ID").unwrap().to_owned();
    let a = first.wait_for_mail().replace("\r\n", "\n");
    let b = second.wait_for_mail().replace("\r\n", "\n");
    assert_eq!(id(&a), id(&b));
}

#[tokio::test]
async fn closed_port_is_transient() {
    let sender = EmailSender::new(&settings(free_port())).unwrap();
    let err = sender
        .send("ops@example.com", &message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn invalid_recipient_is_permanent() {
    let server = SmtpServer::mailbox();
    let err = server
        .sender()
        .send("not an address", &message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("recipient"), "{err}");
    assert!(
        !server.maildir.join("new").exists()
            || server
                .maildir
                .join("new")
                .read_dir()
                .unwrap()
                .next()
                .is_none()
    );
}

#[tokio::test]
async fn smtp_5xx_is_permanent_and_4xx_transient() {
    let rejecting = SmtpServer::rejecting("550 5.1.1 no such user");
    let err = rejecting
        .sender()
        .send("ghost@example.com", &message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("550"), "{err}");

    let deferring = SmtpServer::rejecting("451 4.3.0 try again later");
    let err = deferring
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("451"), "{err}");
}
