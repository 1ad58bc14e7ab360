use fabric::testing::TestGateway;
use serde_json::json;

#[tokio::test]
async fn a_member_hears_the_room() {
    let gateway = TestGateway::new(fabric_examples::chat::adapter());
    let ada = gateway.connect_with(|e| e.query("token", "dev-token"));
    let ada = ada.await.unwrap();
    ada.send(json!({"action": "join", "room": "general"})).await;
    let hi = json!({"action": "message", "room": "general", "content": "hi"});
    ada.send(hi).await;
    assert_eq!(ada.received()[1]["content"], "hi");
}
