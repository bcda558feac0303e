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

/// Every connection in schema.graphql carries the `@listSize` that sizes its `edges` and `nodes` (the IBM
/// GraphQL Cost Directives, docs/cost.md): a connection added without it would not be priced by its page.
#[test]
fn every_connection_states_its_page_size() {
    use async_graphql::Value;
    use async_graphql::parser::types::{BaseType, TypeKind, TypeSystemDefinition};

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let sdl = std::fs::read_to_string(path).unwrap();
    let document = async_graphql::parser::parse_schema(&sdl).unwrap();
    let objects: Vec<_> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => match &t.node.kind {
                TypeKind::Object(o) => Some((t.node.name.node.as_str(), o)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let is_connection = |name: &str| {
        objects.iter().any(|(n, o)| {
            *n == name
                && ["edges", "nodes", "pageInfo"]
                    .iter()
                    .all(|f| o.fields.iter().any(|field| field.node.name.node == *f))
        })
    };
    let strings = |v: Option<&Value>| match v {
        Some(Value::List(items)) => items.iter().map(ToString::to_string).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let mut connections = 0;
    for (type_name, object) in &objects {
        for field in &object.fields {
            let field = &field.node;
            let BaseType::Named(returns) = &field.ty.node.base else {
                continue;
            };
            if !is_connection(returns.as_str()) {
                continue;
            }
            connections += 1;
            let at = format!("{type_name}.{}", field.name.node);
            let list_size = field
                .directives
                .iter()
                .find(|d| d.node.name.node == "listSize")
                .unwrap_or_else(|| panic!("{at} returns a connection without @listSize"));
            let arg = |name: &str| list_size.node.get_argument(name).map(|v| &v.node);
            assert_eq!(
                strings(arg("slicingArguments")),
                ["\"first\"", "\"last\""],
                "{at}"
            );
            assert_eq!(
                strings(arg("sizedFields")),
                ["\"edges\"", "\"nodes\""],
                "{at}"
            );
            assert_eq!(
                arg("assumedSize"),
                Some(&Value::from(board::domain::page::DEFAULT_PAGE_SIZE as i32)),
                "{at}: the default page"
            );
            assert_eq!(
                arg("requireOneSlicingArgument"),
                Some(&Value::Boolean(false)),
                "{at}: neither argument is required"
            );
        }
    }
    assert!(connections >= 12, "{connections} connections found");
}
