//! JWT verification with real signed tokens: RS256 and ES256 against a JWKS served
//! by a local HTTP server, HS256 with a shared secret, and every refusal's reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use fabric::jwt::{JwtError, JwtVerifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/jwt");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("JWT fixture")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({"sub": "alice", "iss": "https://issuer.test", "aud": "chat", "exp": now() + 600})
}

fn rs256(kid: &str, pem: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let key = EncodingKey::from_rsa_pem(fixture(pem).as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn hs256(secret: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

/// A JWKS endpoint on a free port that counts its fetches; `rotated` switches it to
/// the second key set (as a provider does when it rotates keys).
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    rotated: Arc<std::sync::atomic::AtomicBool>,
}

async fn jwks_server() -> JwksServer {
    let fetches = Arc::new(AtomicUsize::new(0));
    let rotated = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (count, switch) = (fetches.clone(), rotated.clone());
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let (count, switch) = (count.clone(), switch.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let mut first: Value = serde_json::from_str(&fixture("jwks.json")).unwrap();
                if switch.load(Ordering::SeqCst) {
                    let second: Value =
                        serde_json::from_str(&fixture("jwks_rotated.json")).unwrap();
                    let keys = first["keys"].as_array_mut().unwrap();
                    keys.extend(second["keys"].as_array().unwrap().iter().cloned());
                }
                first.to_string()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    JwksServer {
        url: format!("http://{addr}/.well-known/jwks.json"),
        fetches,
        rotated,
    }
}

fn verifier(server: &JwksServer) -> JwtVerifier {
    JwtVerifier::jwks(&server.url)
        .issuer("https://issuer.test")
        .audience("chat")
        .leeway(Duration::from_secs(5))
        .refetch_after(Duration::ZERO)
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_against_a_served_jwks_fetched_once() {
    let server = jwks_server().await;
    let verifier = verifier(&server);
    let claims_of: Claims = verifier
        .verify(&rs256("rsa-1", "rsa_private.pem", &claims()))
        .await
        .unwrap();
    assert_eq!(claims_of.sub, "alice");

    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let key = EncodingKey::from_ec_pem(fixture("ec_private.pem").as_bytes()).unwrap();
    let es256 = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    let value: Value = verifier.verify(&es256).await.unwrap();
    assert_eq!(value["sub"], "alice");

    for _ in 0..3 {
        verifier
            .verify::<Claims>(&rs256("rsa-1", "rsa_private.pem", &claims()))
            .await
            .unwrap();
    }
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        1,
        "the key set is cached per process"
    );
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_and_then_refuses() {
    let server = jwks_server().await;
    let verifier = verifier(&server);
    verifier
        .verify::<Claims>(&rs256("rsa-1", "rsa_private.pem", &claims()))
        .await
        .unwrap();

    // The provider rotated keys: a token with the new kid makes one fresh fetch.
    server.rotated.store(true, Ordering::SeqCst);
    let rotated = rs256("rsa-2", "rsa_other_private.pem", &claims());
    verifier.verify::<Claims>(&rotated).await.unwrap();
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2);

    let unknown = rs256("nobody", "rsa_private.pem", &claims());
    let err = verifier.verify::<Claims>(&unknown).await.unwrap_err();
    assert_eq!(err, JwtError::UnknownKey("nobody".into()));
    assert_eq!(
        err.to_string(),
        r#"the token was signed with an unknown key (kid "nobody")"#
    );
    assert_eq!(server.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn random_kids_cannot_make_every_connect_fetch_the_keys() {
    let server = jwks_server().await;
    let verifier = verifier(&server).refetch_after(Duration::from_secs(60));
    for kid in ["a", "b", "c"] {
        let err = verifier
            .verify::<Claims>(&rs256(kid, "rsa_private.pem", &claims()))
            .await
            .unwrap_err();
        assert_eq!(err, JwtError::UnknownKey(kid.into()));
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_bad_token_is_refused_with_its_own_reason() {
    let server = jwks_server().await;
    let verifier = verifier(&server);
    let with = |change: Value| {
        let mut claims = claims();
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        rs256("rsa-1", "rsa_private.pem", &claims)
    };
    let tampered = {
        let token = rs256("rsa-1", "rsa_private.pem", &claims());
        let forged = rs256(
            "rsa-1",
            "rsa_private.pem",
            &json!({"sub": "mallory", "iss": "https://issuer.test", "aud": "chat", "exp": now() + 600}),
        );
        // alice's signature on mallory's claims
        let parts: Vec<&str> = token.split('.').collect();
        let forged_parts: Vec<&str> = forged.split('.').collect();
        format!("{}.{}.{}", parts[0], forged_parts[1], parts[2])
    };
    let alg_none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims().to_string())
        )
    };
    let cases: Vec<(&str, String, JwtError, &str)> = vec![
        (
            "expired",
            with(json!({"exp": now() - 120})),
            JwtError::Expired,
            "the token has expired",
        ),
        (
            "not yet valid",
            with(json!({"nbf": now() + 120})),
            JwtError::NotYetValid,
            "the token is not valid yet",
        ),
        (
            "wrong issuer",
            with(json!({"iss": "https://evil.test"})),
            JwtError::WrongIssuer,
            "the token's issuer is not accepted",
        ),
        (
            "wrong audience",
            with(json!({"aud": "billing"})),
            JwtError::WrongAudience,
            "the token is not meant for this audience",
        ),
        (
            "alg none",
            alg_none,
            JwtError::AlgorithmNotAllowed("none".into()),
            r#"the token's algorithm "none" is not accepted"#,
        ),
        (
            "tampered",
            tampered,
            JwtError::BadSignature,
            "the token's signature is invalid",
        ),
        (
            "HS256 against a JWKS",
            hs256("guess", &claims()),
            JwtError::AlgorithmNotAllowed("HS256".into()),
            r#"the token's algorithm "HS256" is not accepted"#,
        ),
        (
            "garbage",
            "abc".into(),
            JwtError::Malformed,
            "the token is not a well-formed JWT",
        ),
    ];
    for (case, token, expected, message) in cases {
        let err = verifier.verify::<Claims>(&token).await.unwrap_err();
        assert_eq!(err, expected, "{case}");
        assert_eq!(err.to_string(), message, "{case}");
        let error = fabric::Error::from(err);
        assert_eq!(error.status(), 401, "{case}");
        assert_eq!(
            error.detail(),
            message,
            "{case}: the 401 says why, nothing internal"
        );
    }
}

#[tokio::test]
async fn leeway_accepts_small_clock_skew() {
    let server = jwks_server().await;
    let verifier = verifier(&server).leeway(Duration::from_secs(60));
    let mut skewed = claims();
    skewed["exp"] = json!(now() - 10);
    verifier
        .verify::<Claims>(&rs256("rsa-1", "rsa_private.pem", &skewed))
        .await
        .unwrap();
}

#[tokio::test]
async fn hs256_with_a_shared_secret() {
    let verifier = JwtVerifier::hs256("dev-secret").issuer("https://issuer.test");
    let claims_of: Claims = verifier
        .verify(&hs256("dev-secret", &claims()))
        .await
        .unwrap();
    assert_eq!(claims_of.sub, "alice");
    let err = verifier
        .verify::<Claims>(&hs256("other-secret", &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, JwtError::BadSignature);
    let mut expired = claims();
    expired["exp"] = json!(now() - 600);
    let err = verifier
        .verify::<Claims>(&hs256("dev-secret", &expired))
        .await
        .unwrap_err();
    assert_eq!(err, JwtError::Expired);
    // An RS256 token is refused before any key is used (no algorithm confusion).
    let err = verifier
        .verify::<Claims>(&rs256("rsa-1", "rsa_private.pem", &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, JwtError::AlgorithmNotAllowed("RS256".into()));
    // A token without exp is refused: it would never expire.
    let err = verifier
        .verify::<Claims>(&hs256(
            "dev-secret",
            &json!({"sub": "a", "iss": "https://issuer.test"}),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::BadClaims(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_not_an_internal_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let verifier = JwtVerifier::jwks(url);
    let err = verifier
        .verify::<Claims>(&rs256("rsa-1", "rsa_private.pem", &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, JwtError::KeysUnavailable);
    assert_eq!(fabric::Error::from(err).status(), 401);
}
