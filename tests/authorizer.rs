//! `fabric_authorizer`: API Gateway's REQUEST authorizer events (the real fixture)
//! in, the policies and errors API Gateway acts on out; with an HS256 JWT check.

use fabric::jwt::{JwtVerifier, find_token};
use fabric::prelude::*;
use fabric::websocket::{
    Authorized, AuthorizerAdapter, AuthorizerRequest, IdentitySource, MAX_CONTEXT_BYTES,
    fabric_authorizer,
};
use jsonwebtoken::{EncodingKey, Header, encode};

const EVENT: &str =
    include_str!("fixtures/apigw/example-apigw-v2-custom-authorizer-websocket-request.json");

#[derive(Serialize)]
struct Caller {
    user: String,
    level: u32,
    admin: bool,
}

/// The fixture event with `?token=` set (or the parameter removed).
fn event(token: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    if let Some(token) = token {
        event["queryStringParameters"]["token"] = json!(token);
    }
    event.to_string()
}

fn jwt_authorizer() -> AuthorizerAdapter {
    let verifier = JwtVerifier::hs256("test-secret");
    fabric_authorizer(
        [IdentitySource::Query("token".into())],
        move |req: AuthorizerRequest| {
            let verifier = verifier.clone();
            async move {
                let found = find_token(&req).ok_or(fabric::jwt::JwtError::Missing)?;
                let claims: Value = verifier.verify(&found.token).await?;
                let user = claims["sub"].as_str().unwrap_or_default().to_string();
                if user == "mallory" {
                    return Err(Error::new(ErrorKind::Forbidden, "banned"));
                }
                Ok::<_, Error>(Authorized {
                    principal_id: user.clone(),
                    context: Caller {
                        user,
                        level: 3,
                        admin: false,
                    },
                })
            }
        },
    )
}

fn token(sub: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 600;
    encode(
        &Header::default(),
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_secret(b"test-secret"),
    )
    .unwrap()
}

#[tokio::test]
async fn an_allowed_connection_gets_an_allow_policy_for_its_route_and_the_flat_context() {
    let answer = jwt_authorizer()
        .handle_json(&event(Some(&token("ada"))))
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({
            "principalId": "ada",
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": "execute-api:Invoke", "Effect": "Allow",
                "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/test/$connect"
            }]},
            "context": {"user": "ada", "level": 3, "admin": false}
        })
    );
}

#[tokio::test]
async fn a_forbidden_caller_gets_a_deny_policy_and_a_bad_token_the_unauthorized_error() {
    let denied = jwt_authorizer()
        .handle_json(&event(Some(&token("mallory"))))
        .await
        .unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert!(denied.get("context").is_none());

    // API Gateway answers 401 for the error message "Unauthorized".
    for bad in [Some("not-a-jwt"), None] {
        let err = jwt_authorizer().handle_json(&event(bad)).await.unwrap_err();
        assert_eq!((err.status(), err.detail()), (401, "Unauthorized"));
    }
    let err = jwt_authorizer().handle_json("{not json").await.unwrap_err();
    assert_eq!(err.status(), 400);
}

#[tokio::test]
async fn nested_context_a_blank_principal_an_oversized_context_and_a_panic_are_refused() {
    let nested = fabric_authorizer([], |_req: AuthorizerRequest| async {
        Ok::<_, Error>(Authorized {
            principal_id: "ada".into(),
            context: json!({"roles": ["admin"]}),
        })
    });
    let err = nested.handle_json(&event(None)).await.unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(
        err.detail()
            .contains(r#"field "roles" is not a string, number or boolean"#),
        "{}",
        err.detail()
    );

    let blank = fabric_authorizer([], |_req: AuthorizerRequest| async {
        Ok::<_, Error>(Authorized {
            principal_id: " ".into(),
            context: (),
        })
    });
    let denied = blank.handle_json(&event(None)).await.unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");

    let big = fabric_authorizer([], |_req: AuthorizerRequest| async {
        Ok::<_, Error>(Authorized {
            principal_id: "ada".into(),
            context: json!({"blob": "x".repeat(MAX_CONTEXT_BYTES)}),
        })
    });
    let err = big.handle_json(&event(None)).await.unwrap_err();
    assert!(
        err.detail().contains("API Gateway allows 8192"),
        "{}",
        err.detail()
    );

    let panics = fabric_authorizer([], |_req: AuthorizerRequest| async {
        if true {
            panic!("boom");
        }
        Ok::<_, Error>(Authorized {
            principal_id: "ada".into(),
            context: (),
        })
    });
    assert_eq!(
        panics.handle_json(&event(None)).await.unwrap_err().status(),
        500
    );
}

#[test]
fn identity_sources_are_api_gateway_expressions() {
    let authorizer = jwt_authorizer();
    let expressions: Vec<String> = authorizer
        .identity_sources()
        .iter()
        .map(|s| s.expression())
        .collect();
    assert_eq!(expressions, ["route.request.querystring.token"]);
    assert_eq!(
        IdentitySource::Header("Sec-WebSocket-Protocol".into()).expression(),
        "route.request.header.Sec-WebSocket-Protocol"
    );
}

mod identity {
    use std::sync::Arc;

    use fabric::prelude::*;
    use fabric::store::{Connection, MemoryStore, SharedStore};
    use fabric::testing::TestConnection;
    use fabric::websocket::IdentityOrigin;

    #[derive(Debug, Deserialize, Validate, Input)]
    struct Caller {
        level: u32,
        admin: bool,
    }

    #[tokio::test]
    async fn the_authorizer_context_comes_first_and_its_strings_read_back_typed() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        store
            .save(&Connection::new("c1", chrono::Utc::now()).user("from-store"))
            .await
            .unwrap();
        // As API Gateway hands it over: every value a string, with principalId.
        let (ctx, _) = TestConnection::new("c1")
            .store(store)
            .authorizer(json!({"principalId": "ada", "level": "3", "admin": "false", "integrationLatency": 12}))
            .context();
        let identity = ctx.identity().await.unwrap().unwrap();
        assert_eq!(
            (identity.user_id.as_str(), identity.origin),
            ("ada", IdentityOrigin::Authorizer)
        );
        let caller: Caller = identity.attributes_as().unwrap();
        assert_eq!((caller.level, caller.admin), (3, false));
        assert!(!identity.attributes.contains_key("integrationLatency"));
    }

    #[tokio::test]
    async fn without_an_authorizer_the_store_s_user_and_metadata_are_the_identity() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let saved = Connection::new("c1", chrono::Utc::now())
            .user("bob")
            .metadata("level", 7)
            .metadata("admin", true);
        store.save(&saved).await.unwrap();
        store
            .save(&Connection::new("anon", chrono::Utc::now()))
            .await
            .unwrap();
        let (ctx, _) = TestConnection::new("c1").store(store.clone()).context();
        let identity = ctx.identity().await.unwrap().unwrap();
        assert_eq!(
            (identity.user_id.as_str(), identity.origin),
            ("bob", IdentityOrigin::Store)
        );
        assert_eq!(identity.attributes_as::<Caller>().unwrap().level, 7);

        // An anonymous connection, an unknown one and a call off a WebSocket have none.
        for id in ["anon", "never-saved"] {
            let (ctx, _) = TestConnection::new(id).store(store.clone()).context();
            assert_eq!(ctx.identity().await.unwrap(), None);
        }
        assert_eq!(Context::test().0.identity().await.unwrap(), None);
        // Attributes of the wrong shape are a server error naming the type.
        let (ctx, _) = TestConnection::new("c1")
            .authorizer(json!({"principalId": "ada", "level": "high"}))
            .context();
        let err = ctx
            .identity()
            .await
            .unwrap()
            .unwrap()
            .attributes_as::<Caller>()
            .unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(err.detail().contains("Caller"), "{}", err.detail());
    }
}

/// The local gateway with real WebSocket clients: an `on_connect` hook checks an
/// HS256 JWT sent as the subprotocol, echoes it, saves the user, and a service reads
/// the caller through `ctx.identity()` (the store path).
mod gateway {
    use fabric::jwt::{JwtVerifier, find_token};
    use fabric::local::Gateway;
    use fabric::prelude::*;
    use fabric::store::MemoryStore;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::{Error as WsError, Message};

    #[derive(Debug, Deserialize, Validate, Input)]
    struct Empty {}

    #[fabric_service(alias = "whoami")]
    async fn whoami(_input: Empty, ctx: Context) -> Result<Value, Error> {
        let identity = ctx
            .identity()
            .await?
            .ok_or_else(|| Error::unauthorized("anonymous"))?;
        Ok(json!({"user": identity.user_id, "plan": identity.attributes["plan"]}))
    }

    fn adapter() -> fabric::websocket::WebSocketAdapter {
        let verifier = JwtVerifier::hs256("test-secret");
        fabric_websocket(whoami)
            .reply(true)
            .store(MemoryStore::new())
            .on_connect(move |ctx: Context| {
                let verifier = verifier.clone();
                async move {
                    let ws = ctx
                        .websocket()
                        .ok_or_else(|| Error::internal_message("not a WebSocket"))?;
                    let found = find_token(ws).ok_or(fabric::jwt::JwtError::Missing)?;
                    let claims: Value = verifier.verify(&found.token).await?;
                    let mut accept = Accept::new()
                        .user(claims["sub"].as_str().unwrap_or_default())
                        .metadata("plan", "pro");
                    if let Some(protocol) = found.chosen_protocol() {
                        accept = accept.protocol(protocol);
                    }
                    Ok(accept)
                }
            })
    }

    #[tokio::test]
    async fn a_subprotocol_token_is_echoed_and_the_caller_is_known_on_every_message() {
        let running = Gateway::new(adapter()).bind("127.0.0.1:0").await.unwrap();
        let token = super::token("ada");
        let mut request = running.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", token.parse().unwrap());
        let (mut client, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], token.as_str());
        for _ in 0..2 {
            client
                .send(Message::text(json!({"action": "whoami"}).to_string()))
                .await
                .unwrap();
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), client.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let reply: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
            assert_eq!(reply["data"], json!({"user": "ada", "plan": "pro"}));
        }
    }

    #[tokio::test]
    async fn a_bad_or_missing_token_is_a_401_handshake() {
        let running = Gateway::new(adapter()).bind("127.0.0.1:0").await.unwrap();
        for query in ["/", "/?token=garbage"] {
            let url = format!("{}{query}", running.ws_url());
            match tokio_tungstenite::connect_async(url).await {
                Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 401),
                other => panic!("expected a 401, got {:?}", other.map(|_| ())),
            }
        }
    }
}

/// Lets in `?token=` equal to the secret `API_KEY`; counts how often the secrets'
/// variables are read.
fn key_authorizer(lookups: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> AuthorizerAdapter {
    let source = fabric::secrets::Secrets::builder(["API_KEY"]).lookup(move |name| {
        lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (name == "API_KEY").then(|| "k1".to_owned())
    });
    fabric_authorizer(
        [IdentitySource::Query("token".into())],
        |req: AuthorizerRequest| async move {
            let key = req.secret("API_KEY").await?;
            match req.query_param("token") {
                Some(token) if token == key.expose() => Ok(Authorized {
                    principal_id: "client".into(),
                    context: (),
                }),
                _ => Err(Error::unauthorized("unknown key")),
            }
        },
    )
    .secrets_from(source)
}

#[tokio::test]
async fn an_authorizer_reads_its_declared_secrets_loaded_once() {
    let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let authorizer = key_authorizer(lookups.clone());
    assert_eq!(authorizer.secret_names(), ["API_KEY"]);
    for _ in 0..3 {
        let allowed = authorizer.handle_json(&event(Some("k1"))).await.unwrap();
        assert_eq!(allowed["principalId"], "client");
    }
    let err = authorizer
        .handle_json(&event(Some("k2")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 401);
    // Resolved once for the process (its `SECRET_`/`_SECRET` names, then the
    // plain value), not per request.
    let once = lookups.load(std::sync::atomic::Ordering::SeqCst);
    authorizer.handle_json(&event(Some("k1"))).await.unwrap();
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), once);
}

#[tokio::test]
async fn an_undeclared_or_missing_secret_is_an_authorizer_failure_not_a_refusal() {
    let undeclared = fabric_authorizer(
        [IdentitySource::Query("token".into())],
        |req: AuthorizerRequest| async move {
            req.secret("API_KEY").await?;
            Ok(Authorized {
                principal_id: "client".into(),
                context: (),
            })
        },
    );
    let err = undeclared
        .handle_json(&event(Some("k1")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 500);
    let missing = undeclared
        .clone()
        .secrets_from(fabric::secrets::Secrets::builder(["API_KEY"]).lookup(|_| None));
    let err = missing.handle_json(&event(Some("k1"))).await.unwrap_err();
    assert_eq!(err.status(), 500);
}
