//! The cost of one operation: the IBM spec's static analysis of its *field cost*, with the weights and list
//! sizes the schema declares ([`super::plan`]). The rules as board applies them (docs/cost.md):
//!
//! - each field costs its weight (plus the weight of the arguments given to it; never below 0) once for
//!   every time it may be resolved: a field under a list is resolved once per element;
//! - a list field's size is the largest of its slicing arguments given (a variable's value, a negative
//!   number counting 0), else its `assumedSize`; with `sizedFields` the field answers one object and those
//!   list fields of it have the size;
//! - a selection on an interface costs what the costliest of its object types would cost; `@skip` and
//!   `@include` leave out what the engine leaves out; `__typename` costs 0;
//! - introspection (`__schema`, `__type`) is not in the schema's text: 1 per field that selects an object,
//!   its lists counted once.
//!
//! One walk over the operation, fragments expanded (the document limits bound their expansion before any
//! operation gets here), with hash lookups into the plan: no schema is walked per request.

use std::borrow::Cow;

use async_graphql::Value as ConstValue;
use async_graphql::Variables;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, Positioned};
use async_graphql_value::Value;

use super::plan::{CostPlan, FieldInfo, InputInfo, Sizing, TypeInfo, UNKNOWN_SIZE};

/// The cost of the operation a request runs (`operation_name`, or the document's only one); 0 when it
/// names none (the engine refuses the request).
pub fn operation_cost(
    plan: &CostPlan,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> u64 {
    let only_one = document.operations.iter().nth(1).is_none();
    let selected = document
        .operations
        .iter()
        .find(|(name, _)| match (operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => only_one,
            (Some(_), None) => false,
        });
    let Some((_, operation)) = selected else {
        return 0;
    };
    let mut walk = Walk {
        plan,
        document,
        variables,
        definitions: &operation.node.variable_definitions,
        visiting: Vec::new(),
    };
    let root = plan.root(operation.node.ty);
    walk.selection(&operation.node.selection_set.node, root, None)
}

struct Walk<'a> {
    plan: &'a CostPlan,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    definitions: &'a [Positioned<VariableDefinition>],
    /// Fragments being expanded (a cycle stops; validation refuses the document).
    visiting: Vec<&'a str>,
}

/// The list fields a `@listSize(sizedFields:)` field sizes, among its children, and their size.
#[derive(Clone, Copy)]
struct SizedFields<'a> {
    fields: &'a [String],
    size: u64,
}

impl<'a> Walk<'a> {
    /// What `set` costs for one object of type `ty` (`None`: a type outside the plan). On an interface or a
    /// union: what the costliest of its object types would cost.
    fn selection(
        &mut self,
        set: &'a SelectionSet,
        ty: Option<&'a str>,
        sized: Option<SizedFields<'a>>,
    ) -> u64 {
        let plan = self.plan;
        if let Some(TypeInfo::Abstract { possible, .. }) = ty.and_then(|t| plan.ty(t))
            && !possible.is_empty()
        {
            return possible
                .iter()
                .map(|object| self.on(set, Some(object.as_str()), sized))
                .max()
                .unwrap_or(0);
        }
        self.on(set, ty, sized)
    }

    /// What `set` costs on an object of type `ty`: its fields, and the fragments that apply to `ty`.
    fn on(
        &mut self,
        set: &'a SelectionSet,
        ty: Option<&'a str>,
        sized: Option<SizedFields<'a>>,
    ) -> u64 {
        let applies =
            |plan: &CostPlan, condition: &str| ty.is_none_or(|t| plan.applies(condition, t));
        let mut total = 0_u64;
        for item in &set.items {
            let cost = match &item.node {
                Selection::Field(field) => {
                    if field.node.name.node == "__typename" || self.skipped(&field.node.directives)
                    {
                        0
                    } else {
                        self.field(&field.node, ty, sized)
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| applies(self.plan, c.node.on.node.as_str()));
                    if applies && !self.skipped(&fragment.directives) {
                        self.on(&fragment.selection_set.node, ty, sized)
                    } else {
                        0
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.document.fragments.get(name) {
                        Some(definition)
                            if !self.visiting.contains(&name)
                                && !self.skipped(&spread.node.directives)
                                && applies(
                                    self.plan,
                                    definition.node.type_condition.node.on.node.as_str(),
                                ) =>
                        {
                            self.visiting.push(name);
                            let cost = self.on(&definition.node.selection_set.node, ty, sized);
                            self.visiting.pop();
                            cost
                        }
                        _ => 0,
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }

    /// What one resolution of `field` of `parent` costs, with everything below it.
    fn field(
        &mut self,
        field: &'a Field,
        parent: Option<&'a str>,
        sized: Option<SizedFields<'a>>,
    ) -> u64 {
        let plan = self.plan;
        let name = field.name.node.as_str();
        let set = &field.selection_set.node;
        let Some(info) = parent.and_then(|p| plan.field(p, name)) else {
            // Introspection: 1 for a field that selects an object, lists counted once.
            let own = u64::from(!set.items.is_empty());
            return own.saturating_add(self.selection(set, None, None));
        };
        let arguments = field
            .arguments
            .iter()
            .map(|(arg, value)| {
                info.args
                    .get(arg.node.as_str())
                    .map_or(0, |def| self.argument(def, &value.node))
            })
            .fold(0_i64, i64::saturating_add);
        let own = u64::try_from(info.weight.saturating_add(arguments)).unwrap_or(0);
        let below = match &info.size {
            Some(sizing) if !sizing.sized_fields.is_empty() => {
                let size = self.size(sizing, info, field);
                let sized = SizedFields {
                    fields: &sizing.sized_fields,
                    size,
                };
                self.selection(set, Some(&info.ty), Some(sized))
            }
            own_size => {
                let size = match (sized, own_size) {
                    (Some(s), _) if s.fields.iter().any(|f| f == name) => s.size,
                    (_, Some(sizing)) => self.size(sizing, info, field),
                    _ if info.list => UNKNOWN_SIZE,
                    _ => 1,
                };
                let each = self.selection(set, Some(&info.ty), None);
                if each == 0 {
                    0
                } else {
                    size.saturating_mul(each)
                }
            }
        };
        own.saturating_add(below)
    }

    /// The size `@listSize` gives a field where it is selected.
    fn size(&self, sizing: &Sizing, info: &'a FieldInfo, field: &'a Field) -> u64 {
        let given = sizing
            .slicing
            .iter()
            .filter_map(|arg| {
                let value = match field.get_argument(arg) {
                    Some(value) => self.resolve(&value.node),
                    None => info.args.get(arg)?.default.as_ref().map(Cow::Borrowed),
                };
                match value.as_deref() {
                    Some(ConstValue::Number(n)) => n.as_i64(),
                    _ => None,
                }
            })
            .max();
        match given {
            Some(n) => u64::try_from(n).unwrap_or(0),
            None => sizing.assumed.unwrap_or(UNKNOWN_SIZE),
        }
    }

    /// What an argument given to a field weighs: its weight and its input fields', unless it is null.
    fn argument(&self, def: &'a InputInfo, value: &'a Value) -> i64 {
        let plan = self.plan;
        if def.weight == 0 && !matches!(plan.ty(&def.ty), Some(TypeInfo::Input(_))) {
            return 0;
        }
        match self.resolve(value) {
            None => 0,
            Some(value) if matches!(*value, ConstValue::Null) => 0,
            Some(value) => def.weight.saturating_add(self.input(&def.ty, &value)),
        }
    }

    /// What the input fields given in `value`, of input type `ty`, weigh.
    fn input(&self, ty: &str, value: &ConstValue) -> i64 {
        match (value, self.plan.ty(ty)) {
            (ConstValue::List(items), _) => items
                .iter()
                .map(|item| self.input(ty, item))
                .fold(0, i64::saturating_add),
            (ConstValue::Object(fields), Some(TypeInfo::Input(defs))) => fields
                .iter()
                .filter(|(_, v)| !matches!(v, ConstValue::Null))
                .map(|(name, v)| {
                    defs.get(name.as_str())
                        .map_or(0, |d| d.weight.saturating_add(self.input(&d.ty, v)))
                })
                .fold(0, i64::saturating_add),
            _ => 0,
        }
    }

    /// Whether `@skip(if: true)` or `@include(if: false)` leaves a selection out.
    fn skipped(&self, directives: &'a [Positioned<Directive>]) -> bool {
        directives.iter().any(|d| {
            let when = match d.node.name.node.as_str() {
                "skip" => true,
                "include" => false,
                _ => return false,
            };
            d.node
                .get_argument("if")
                .and_then(|v| self.resolve(&v.node))
                .is_some_and(|v| *v == ConstValue::Boolean(when))
        })
    }

    /// A value with the request's variables in place (`None`: a variable neither given nor defaulted).
    fn resolve(&self, value: &'a Value) -> Option<Cow<'a, ConstValue>> {
        match value {
            Value::Variable(name) => self.variable(name).map(Cow::Borrowed),
            other => other
                .clone()
                .into_const_with(|name| self.variable(&name).cloned().ok_or(()))
                .ok()
                .map(Cow::Owned),
        }
    }

    fn variable(&self, name: &Name) -> Option<&'a ConstValue> {
        self.variables.get(name).or_else(|| {
            self.definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .and_then(|d| d.node.default_value())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::cost::plan;

    fn cost(query: &str, variables: serde_json::Value) -> u64 {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let variables = Variables::from_json(variables);
        operation_cost(&plan::shared(), &document, None, &variables)
    }

    #[test]
    fn the_schema_states_a_size_for_every_list_and_keeps_the_spec_rules() {
        assert_eq!(plan::shared().problems(), Vec::<String>::new());
    }

    #[test]
    fn lists_multiply_what_is_below_them_and_fields_count_their_weight() {
        // posts 1 + edges 1 + 3 × node 1 (scalars weigh 0).
        assert_eq!(
            cost(
                "{ posts(first: 3) { edges { node { id title } } } }",
                serde_json::json!({})
            ),
            5
        );
        // The default page; pageInfo 1 and totalCount 1 are not multiplied.
        assert_eq!(
            cost(
                "{ posts { totalCount pageInfo { hasNextPage } nodes { author { name } } } }",
                serde_json::json!({})
            ),
            1 + 1 + 1 + 1 + 20
        );
        // A variable, and `last` instead of `first`.
        assert_eq!(
            cost(
                "query($n: Int) { posts(last: $n) { nodes { author { id } } } }",
                serde_json::json!({ "n": 7 })
            ),
            1 + 1 + 7
        );
        // A negative size counts 0.
        assert_eq!(
            cost(
                "{ posts(first: -5) { nodes { author { id } } } }",
                serde_json::json!({})
            ),
            2
        );
    }

    #[test]
    fn interfaces_cost_their_costliest_type_and_skipped_fields_nothing() {
        let q = "{ node(id: \"x\") { id ... on Post { author { name } category { name } } ... on Comment { author { name } } } }";
        assert_eq!(cost(q, serde_json::json!({})), 1 + 2);
        let q = "query($s: Boolean!) { viewer { name posts @skip(if: $s) { totalCount } } }";
        assert_eq!(cost(q, serde_json::json!({ "s": true })), 1);
        assert_eq!(cost(q, serde_json::json!({ "s": false })), 1 + 2);
        // Fragments, and a cycle that validation refuses, do not hang.
        let q = "{ viewer { ...A } } fragment A on User { posts { totalCount } ...A }";
        assert_eq!(cost(q, serde_json::json!({})), 1 + 2);
    }

    #[test]
    fn an_input_object_argument_weighs_one() {
        let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
        let i = serde_json::json!({ "i": { "categoryId": "x", "title": "t", "content": "c" } });
        assert_eq!(cost(q, i), 1 + 1 + 1);
        assert_eq!(
            cost(
                "{ __schema { types { name fields { name } } } }",
                serde_json::json!({})
            ),
            3
        );
    }
}
