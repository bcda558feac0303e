//! The cost model read back from the printed schema (`board schema`, `schema.graphql`): for every field its
//! weight, the type it answers and the size of the lists it answers, from its `@cost` and `@listSize` or the
//! spec's defaults. Built once per process; [`super::analysis`] walks operations against it. Reading the
//! SDL, rather than a table of its own, is what makes the cost enforced the cost the SDL states.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, LazyLock};

use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{
    BaseType, ConstDirective, InputValueDefinition, OperationType, ServiceDocument, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Positioned, parser};

/// A list whose size nothing states: the spec's static analysis must assume it has no end. Every list
/// field of the schema states one (a test keeps it so); this keeps a forgotten one refused, not free.
pub const UNKNOWN_SIZE: u64 = u64::MAX;

/// FNV-1a: schema names are short, and hashing them is most of what pricing an operation costs (the
/// standard hasher is built against flooding, which names looked up in a fixed table cannot do).
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A table by schema name.
pub type Names<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// What a type is, for the cost.
#[derive(Debug)]
pub enum TypeInfo {
    /// A scalar or an enum.
    Leaf,
    /// An object type and its fields.
    Object(Names<FieldInfo>),
    /// An interface (its fields) or a union, and the object types that may stand for it.
    Abstract {
        fields: Names<FieldInfo>,
        possible: Vec<String>,
    },
    /// An input object type and its fields.
    Input(Names<InputInfo>),
}

/// One field of an object or an interface.
#[derive(Debug)]
pub struct FieldInfo {
    /// The named type it answers (inside any list and non-null wrappers).
    pub ty: String,
    /// Whether it answers a list.
    pub list: bool,
    /// `@cost`, or 1 for an object, interface or union type and 0 for a scalar or an enum.
    pub weight: i64,
    /// `@listSize`.
    pub size: Option<Sizing>,
    pub args: Names<InputInfo>,
    /// Whether the field carries `@cost` (for the spec's checks).
    pub declared_weight: bool,
}

/// An argument, or a field of an input object.
#[derive(Debug)]
pub struct InputInfo {
    /// The named type.
    pub ty: String,
    /// Whether it is `Int` or `Int!` (slicing arguments must be).
    pub int: bool,
    /// `@cost`, or 1 for an input object type and 0 for a scalar or an enum.
    pub weight: i64,
    pub default: Option<ConstValue>,
}

/// The arguments of a field's `@listSize`.
#[derive(Debug)]
pub struct Sizing {
    pub assumed: Option<u64>,
    pub slicing: Vec<String>,
    pub sized_fields: Vec<String>,
    pub require_one: bool,
}

/// The schema's types as the cost sees them.
#[derive(Debug)]
pub struct CostPlan {
    types: Names<TypeInfo>,
    query: String,
    mutation: Option<String>,
    subscription: Option<String>,
}

/// The plan of board's schema, built from its SDL on first use (at start-up: building the schema asks
/// for it). A unit test keeps the SDL readable; were it not, every field would cost as introspection does.
pub fn shared() -> Arc<CostPlan> {
    static PLAN: LazyLock<Arc<CostPlan>> = LazyLock::new(|| {
        let plan = CostPlan::from_sdl(&crate::graphql::sdl()).unwrap_or_else(|error| {
            tracing::error!(%error, "the schema's cost declarations do not read");
            CostPlan {
                types: Names::default(),
                query: "Query".to_owned(),
                mutation: Some("Mutation".to_owned()),
                subscription: Some("Subscription".to_owned()),
            }
        });
        Arc::new(plan)
    });
    Arc::clone(&PLAN)
}

fn named(ty: &Type) -> (&str, bool) {
    match &ty.base {
        BaseType::Named(name) => (name.as_str(), false),
        BaseType::List(inner) => (named(inner).0, true),
    }
}

fn directive<'d>(
    directives: &'d [Positioned<ConstDirective>],
    name: &str,
) -> Option<&'d ConstDirective> {
    directives
        .iter()
        .map(|d| &d.node)
        .find(|d| d.name.node == name)
}

/// `@cost(weight:)` as whole points (a fractional weight rounds up).
fn weight(directives: &[Positioned<ConstDirective>]) -> Result<Option<i64>, String> {
    let Some(cost) = directive(directives, "cost") else {
        return Ok(None);
    };
    match cost.get_argument("weight").map(|v| &v.node) {
        Some(ConstValue::String(text)) => match text.trim().parse::<f64>() {
            Ok(w) if w.is_finite() => Ok(Some(w.ceil() as i64)),
            _ => Err(format!("@cost(weight: {text:?}) is not a Float")),
        },
        _ => Err("@cost without a String weight".to_owned()),
    }
}

fn strings(directive: &ConstDirective, name: &str) -> Vec<String> {
    match directive.get_argument(name).map(|v| &v.node) {
        Some(ConstValue::List(items)) => items
            .iter()
            .filter_map(|i| match i {
                ConstValue::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn sizing(directives: &[Positioned<ConstDirective>]) -> Option<Sizing> {
    let list_size = directive(directives, "listSize")?;
    let assumed = match list_size.get_argument("assumedSize").map(|v| &v.node) {
        Some(ConstValue::Number(n)) => n.as_u64(),
        _ => None,
    };
    let require_one = !matches!(
        list_size
            .get_argument("requireOneSlicingArgument")
            .map(|v| &v.node),
        Some(ConstValue::Boolean(false))
    );
    Some(Sizing {
        assumed,
        slicing: strings(list_size, "slicingArguments"),
        sized_fields: strings(list_size, "sizedFields"),
        require_one,
    })
}

/// What a type's name says before its definition is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    Composite,
    Input,
}

impl CostPlan {
    /// The plan of an SDL document.
    ///
    /// # Errors
    /// The text does not parse, or a `@cost` weight is not a Float.
    pub fn from_sdl(sdl: &str) -> Result<Self, String> {
        let document: ServiceDocument = parser::parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut kinds: HashMap<&str, Kind> = HashMap::new();
        let mut possible: HashMap<String, Vec<String>> = HashMap::new();
        let (mut query, mut mutation, mut subscription) = (None, None, None);
        for definition in &document.definitions {
            match definition {
                TypeSystemDefinition::Type(ty) => {
                    let name = ty.node.name.node.as_str();
                    let kind = match &ty.node.kind {
                        TypeKind::Scalar | TypeKind::Enum(_) => Kind::Leaf,
                        TypeKind::InputObject(_) => Kind::Input,
                        TypeKind::Object(object) => {
                            for interface in &object.implements {
                                possible
                                    .entry(interface.node.to_string())
                                    .or_default()
                                    .push(name.to_owned());
                            }
                            Kind::Composite
                        }
                        TypeKind::Union(union) => {
                            possible
                                .entry(name.to_owned())
                                .or_default()
                                .extend(union.members.iter().map(|m| m.node.to_string()));
                            Kind::Composite
                        }
                        TypeKind::Interface(_) => Kind::Composite,
                    };
                    kinds.insert(name, kind);
                }
                TypeSystemDefinition::Schema(schema) => {
                    query = schema.node.query.as_ref().map(|n| n.node.to_string());
                    mutation = schema.node.mutation.as_ref().map(|n| n.node.to_string());
                    subscription = schema
                        .node
                        .subscription
                        .as_ref()
                        .map(|n| n.node.to_string());
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        // Built-in scalars are not printed: a name without a definition is a leaf.
        let kind = |name: &str| kinds.get(name).copied().unwrap_or(Kind::Leaf);
        let input =
            |value: &Positioned<InputValueDefinition>| -> Result<(String, InputInfo), String> {
                let (ty, list) = named(&value.node.ty.node);
                let default = match kind(ty) {
                    Kind::Input => 1,
                    _ => 0,
                };
                Ok((
                    value.node.name.node.to_string(),
                    InputInfo {
                        ty: ty.to_owned(),
                        int: ty == "Int" && !list,
                        weight: weight(&value.node.directives)?.unwrap_or(default),
                        default: value.node.default_value.as_ref().map(|v| v.node.clone()),
                    },
                ))
            };
        let mut types = Names::default();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            let fields = match &ty.node.kind {
                TypeKind::Object(o) => Some(&o.fields),
                TypeKind::Interface(i) => Some(&i.fields),
                _ => None,
            };
            let mut field_infos = Names::default();
            for field in fields.into_iter().flatten() {
                let (returns, list) = named(&field.node.ty.node);
                let declared = weight(&field.node.directives)?;
                let default = match kind(returns) {
                    Kind::Composite => 1,
                    _ => 0,
                };
                field_infos.insert(
                    field.node.name.node.to_string(),
                    FieldInfo {
                        ty: returns.to_owned(),
                        list,
                        weight: declared.unwrap_or(default),
                        size: sizing(&field.node.directives),
                        args: field
                            .node
                            .arguments
                            .iter()
                            .map(input)
                            .collect::<Result<_, _>>()?,
                        declared_weight: declared.is_some(),
                    },
                );
            }
            let info = match &ty.node.kind {
                TypeKind::Scalar | TypeKind::Enum(_) => TypeInfo::Leaf,
                TypeKind::Object(_) => TypeInfo::Object(field_infos),
                TypeKind::Interface(_) | TypeKind::Union(_) => TypeInfo::Abstract {
                    fields: field_infos,
                    possible: possible.remove(&name).unwrap_or_default(),
                },
                TypeKind::InputObject(object) => {
                    TypeInfo::Input(object.fields.iter().map(input).collect::<Result<_, _>>()?)
                }
            };
            types.insert(name, info);
        }
        Ok(Self {
            types,
            query: query.unwrap_or_else(|| "Query".to_owned()),
            mutation: mutation
                .or_else(|| kinds.contains_key("Mutation").then(|| "Mutation".into())),
            subscription: subscription.or_else(|| {
                kinds
                    .contains_key("Subscription")
                    .then(|| "Subscription".into())
            }),
        })
    }

    /// The root type of an operation.
    pub fn root(&self, operation: OperationType) -> Option<&str> {
        match operation {
            OperationType::Query => Some(&self.query),
            OperationType::Mutation => self.mutation.as_deref(),
            OperationType::Subscription => self.subscription.as_deref(),
        }
    }

    pub fn ty(&self, name: &str) -> Option<&TypeInfo> {
        self.types.get(name)
    }

    /// A field of an object or an interface.
    pub fn field(&self, ty: &str, field: &str) -> Option<&FieldInfo> {
        match self.types.get(ty)? {
            TypeInfo::Object(fields) | TypeInfo::Abstract { fields, .. } => fields.get(field),
            TypeInfo::Leaf | TypeInfo::Input(_) => None,
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `ty`.
    pub fn applies(&self, condition: &str, ty: &str) -> bool {
        condition == ty
            || matches!(self.types.get(condition), Some(TypeInfo::Abstract { possible, .. })
                if possible.iter().any(|p| p == ty))
    }

    /// Where the schema's declarations break the spec's validation rules (section 9) or leave a list of
    /// objects without a size; empty when they do not.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // The list fields that some field's `sizedFields` sizes, per type.
        let mut sized: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut types: Vec<_> = self.types.iter().collect();
        types.sort_by_key(|(name, _)| name.as_str());
        for (type_name, info) in &types {
            let (fields, interface) = match info {
                TypeInfo::Object(fields) => (fields, false),
                TypeInfo::Abstract { fields, .. } => (fields, true),
                TypeInfo::Leaf | TypeInfo::Input(_) => continue,
            };
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by_key(|(name, _)| name.as_str());
            for (field_name, field) in fields {
                let at = format!("{type_name}.{field_name}");
                if interface && field.declared_weight {
                    problems.push(format!("{at}: @cost on an interface field (9.1.1)"));
                }
                let Some(size) = &field.size else { continue };
                if !field.list && size.sized_fields.is_empty() {
                    problems.push(format!(
                        "{at}: @listSize on a field that is no list (9.2.1)"
                    ));
                }
                for sized_field in &size.sized_fields {
                    match self.field(&field.ty, sized_field) {
                        Some(f) if f.list => {
                            sized.entry(&field.ty).or_default().push(sized_field);
                        }
                        _ => problems.push(format!(
                            "{at}: sized field {sized_field} is no list field of {} (9.2.2)",
                            field.ty
                        )),
                    }
                }
                for slicing in &size.slicing {
                    match field.args.get(slicing) {
                        Some(arg) if arg.int => {
                            if size.assumed.is_some() && arg.default.is_some() {
                                problems.push(format!(
                                    "{at}: assumedSize beside slicing argument {slicing}, which has a default (9.2.4)"
                                ));
                            }
                        }
                        _ => problems.push(format!(
                            "{at}: slicing argument {slicing} is no Int argument (9.2.3)"
                        )),
                    }
                }
                if size.assumed.is_some() && !size.slicing.is_empty() && size.require_one {
                    problems.push(format!(
                        "{at}: assumedSize beside slicing arguments needs requireOneSlicingArgument: false (9.2.4)"
                    ));
                }
            }
        }
        // Every list of objects has a size: its own @listSize, or its parents' sizedFields.
        for (type_name, info) in &types {
            let (TypeInfo::Object(fields) | TypeInfo::Abstract { fields, .. }) = info else {
                continue;
            };
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by_key(|(name, _)| name.as_str());
            for (field_name, field) in fields {
                let of_objects = matches!(
                    self.types.get(&field.ty),
                    Some(TypeInfo::Object(_) | TypeInfo::Abstract { .. })
                );
                let sized_by_parents = sized
                    .get(type_name.as_str())
                    .is_some_and(|names| names.contains(&field_name.as_str()));
                if field.list && of_objects && field.size.is_none() && !sized_by_parents {
                    problems.push(format!(
                        "{type_name}.{field_name}: a list of objects without @listSize"
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::cost::analysis::operation_cost;

    const SDL: &str = r#"
type Query {
    a: [A!]!
    b(first: Int = 3, last: Int): BPage @listSize(assumedSize: 5, slicingArguments: ["first", "last"], sizedFields: ["items", "count"])
    c: A @listSize(assumedSize: 2)
    d(n: String): [A!]! @listSize(slicingArguments: ["n"]) @cost(weight: "2.5")
}
interface I { x: A @cost(weight: "2") }
type A implements I { x: A }
type BPage { items: [A!]! count: Int }
schema { query: Query }
"#;

    #[test]
    fn declarations_that_break_the_spec_rules_are_named() {
        let problems = CostPlan::from_sdl(SDL).unwrap().problems();
        for expected in [
            "Query.a: a list of objects without @listSize",
            "I.x: @cost on an interface field (9.1.1)",
            "Query.b: sized field count is no list field of BPage (9.2.2)",
            "Query.b: assumedSize beside slicing argument first, which has a default (9.2.4)",
            "Query.b: assumedSize beside slicing arguments needs requireOneSlicingArgument: false (9.2.4)",
            "Query.c: @listSize on a field that is no list (9.2.1)",
            "Query.d: slicing argument n is no Int argument (9.2.3)",
        ] {
            assert!(
                problems.iter().any(|p| p == expected),
                "{expected} missing from {problems:#?}"
            );
        }
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(CostPlan::from_sdl("type Query { a: Int @cost(weight: \"x\") }").is_err());
    }

    #[test]
    fn defaults_of_slicing_arguments_and_fractional_weights_count() {
        let plan = CostPlan::from_sdl(SDL).unwrap();
        let cost = |q: &str| {
            let document = async_graphql::parser::parse_query(q).unwrap();
            operation_cost(&plan, &document, None, &async_graphql::Variables::default())
        };
        // b 1 + items 1 + 3 (the default of `first`) × x 1.
        assert_eq!(cost("{ b { items { x { __typename } } } }"), 5);
        // The larger of two slicing arguments.
        assert_eq!(
            cost("{ b(first: 2, last: 4) { items { x { __typename } } } }"),
            6
        );
        // A weight of 2.5 counts 3 whole points; a list without a size refuses what is below it.
        assert_eq!(cost("{ d { __typename } }"), 3);
        assert_eq!(cost("{ a { x { __typename } } }"), UNKNOWN_SIZE);
        assert_eq!(cost("{ a { __typename } }"), 1);
    }
}
