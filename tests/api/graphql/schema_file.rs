//! `schema.graphql` is what client generators read: it must equal the schema the server serves.

use crate::helpers::Backend;

#[tokio::test]
async fn schema_file_matches_the_served_schema() {
    let (config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
    let app = board::App::build(config).await.unwrap();
    let served = board::graphql::sdl_of(&app.schema);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let file = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        served == file,
        "schema.graphql differs from the served schema; regenerate it with `cargo run -- schema > schema.graphql`"
    );
    assert_eq!(
        board::graphql::sdl(),
        served,
        "`board schema` prints the served schema"
    );
}
