//! The IBM GraphQL Cost Directives (<https://ibm.github.io/graphql-specs/cost-spec.html>) as board declares
//! them: the definitions of `@cost` and `@listSize`, exactly as the spec gives them, and the invocations a
//! field carries (`#[graphql(directive = ListSize::apply(Size::CONNECTION))]`). The schema prints them, and
//! the cost board enforces is read back from the printed schema ([`super::plan`]): one declaration, next to
//! the resolver, is both what clients read and what they pay.
//!
//! The engine's `#[TypeDirective]` macro cannot declare the `SCALAR` location the spec's `@cost` has, so the
//! two directives are written out here (the macro would generate the same three items). And the engine
//! prints a directive's arguments without their descriptions, which introspection serves: [`print_arguments`]
//! puts them in the SDL, so that `schema.graphql` and what a client rebuilds from introspection are one schema.

use std::borrow::Cow;
use std::fmt::Write;

use async_graphql::indexmap::IndexMap;
use async_graphql::registry::{
    __DirectiveLocation, Deprecation, MetaDirective, MetaDirectiveInvocation, MetaInputValue,
    Registry, location_traits,
};
use async_graphql::{TypeDirective, Value};

use crate::domain::page::DEFAULT_PAGE_SIZE;

/// A directive as the spec defines it, with board's descriptions.
struct Definition {
    name: &'static str,
    description: &'static str,
    locations: &'static [__DirectiveLocation],
    /// (name, type, default, description).
    arguments: &'static [(
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
    )],
}

const COST: Definition = Definition {
    name: "cost",
    description: "The weight of a field each time it may be resolved, in points (the IBM GraphQL Cost \
        Directives, https://ibm.github.io/graphql-specs/cost-spec.html). Without it a field weighs 1 when its \
        type is an object or an interface and 0 when it is a scalar or an enum; an argument of an input type \
        weighs 1 (docs/cost.md).",
    locations: &[
        __DirectiveLocation::ARGUMENT_DEFINITION,
        __DirectiveLocation::ENUM,
        __DirectiveLocation::FIELD_DEFINITION,
        __DirectiveLocation::INPUT_FIELD_DEFINITION,
        __DirectiveLocation::OBJECT,
        __DirectiveLocation::SCALAR,
    ],
    arguments: &[(
        "weight",
        "String!",
        None,
        "The weight: a serialized Float, e.g. \"2.0\".",
    )],
};

const LIST_SIZE: Definition = Definition {
    name: "listSize",
    description: "How many elements a list field answers at most, for its cost (the IBM GraphQL Cost \
        Directives): the largest of its slicing arguments given, else `assumedSize`. With `sizedFields` the \
        field answers one object, and those list fields of it have that size (docs/cost.md).",
    locations: &[__DirectiveLocation::FIELD_DEFINITION],
    arguments: &[
        (
            "assumedSize",
            "Int",
            None,
            "The most elements the list has (without a slicing argument, when it has some).",
        ),
        (
            "slicingArguments",
            "[String!]",
            None,
            "Arguments of the field whose value is the size of the list; the largest one given counts.",
        ),
        (
            "sizedFields",
            "[String!]",
            None,
            "List fields of the returned object that have the size, instead of the field itself.",
        ),
        (
            "requireOneSlicingArgument",
            "Boolean",
            Some("true"),
            "Whether a query must give exactly one of the slicing arguments.",
        ),
    ],
};

impl Definition {
    fn register(&self, registry: &mut Registry) {
        let args = self
            .arguments
            .iter()
            .map(|(name, ty, default, description)| {
                let value = MetaInputValue {
                    name: (*name).to_owned(),
                    description: Some((*description).to_owned()),
                    ty: (*ty).to_owned(),
                    deprecation: Deprecation::NoDeprecated,
                    default_value: default.map(str::to_owned),
                    visible: None,
                    inaccessible: false,
                    tags: Vec::new(),
                    is_secret: false,
                    directive_invocations: Vec::new(),
                };
                ((*name).to_owned(), value)
            })
            .collect();
        registry.add_directive(MetaDirective {
            name: self.name.to_owned(),
            description: Some(self.description.to_owned()),
            locations: self.locations.to_vec(),
            args,
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    /// The arguments as the engine prints them: `(weight: String!)`.
    fn printed_arguments(&self) -> String {
        let arguments: Vec<String> = self
            .arguments
            .iter()
            .map(|(name, ty, default, _)| match default {
                Some(default) => format!("{name}: {ty} = {default}"),
                None => format!("{name}: {ty}"),
            })
            .collect();
        format!("({})", arguments.join(", "))
    }

    /// The arguments with their descriptions, one per line, as the engine prints a field's.
    fn described_arguments(&self) -> String {
        let mut text = String::from("(\n");
        for (i, (name, ty, default, description)) in self.arguments.iter().enumerate() {
            let _ = write!(text, "\t\"\"\"\n\t{description}\n\t\"\"\"\n\t{name}: {ty}");
            if let Some(default) = default {
                let _ = write!(text, " = {default}");
            }
            text.push_str(if i + 1 < self.arguments.len() {
                ",\n"
            } else {
                "\n"
            });
        }
        text.push(')');
        text
    }
}

/// `sdl` with the arguments of `@cost` and `@listSize` described, as introspection describes them (the
/// engine prints a directive's arguments without their descriptions). A definition printed otherwise than
/// expected is left as it is (the drift test and the clients' codegen check then say so).
pub fn print_arguments(sdl: &str) -> String {
    let mut sdl = sdl.to_owned();
    for definition in [&COST, &LIST_SIZE] {
        let printed = format!(
            "directive @{}{}",
            definition.name,
            definition.printed_arguments()
        );
        let described = format!(
            "directive @{}{}",
            definition.name,
            definition.described_arguments()
        );
        sdl = sdl.replacen(&printed, &described, 1);
    }
    sdl
}

fn invocation(name: &str, args: IndexMap<String, Value>) -> MetaDirectiveInvocation {
    MetaDirectiveInvocation {
        name: name.to_owned(),
        args,
    }
}

/// `@cost(weight:)`: what a field costs each time it may be resolved, when that is not the default (1 for a
/// field of an object or interface type, 0 for a scalar or an enum).
pub struct Cost;

impl TypeDirective for Cost {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(COST.name)
    }

    fn register(&self, registry: &mut Registry) {
        COST.register(registry);
    }
}

impl location_traits::Directive_At_FIELD_DEFINITION for Cost {}

impl Cost {
    /// `@cost(weight: "<weight>")` (board's weights are whole points).
    pub fn apply(weight: u32) -> MetaDirectiveInvocation {
        let mut args = IndexMap::new();
        args.insert("weight".to_owned(), Value::String(weight.to_string()));
        invocation(COST.name, args)
    }
}

/// The arguments of one `@listSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub assumed_size: Option<u32>,
    pub slicing_arguments: &'static [&'static str],
    pub sized_fields: &'static [&'static str],
    pub require_one_slicing_argument: bool,
}

impl Size {
    /// A Relay connection: `first` or `last` elements of its `edges` and `nodes` (the default page without
    /// either; both at once is refused, and would count the larger).
    pub const CONNECTION: Self = Self {
        assumed_size: Some(DEFAULT_PAGE_SIZE as u32),
        slicing_arguments: &["first", "last"],
        sized_fields: &["edges", "nodes"],
        require_one_slicing_argument: false,
    };

    /// A list of at most `n` elements.
    pub const fn assumed(n: u32) -> Self {
        Self {
            assumed_size: Some(n),
            slicing_arguments: &[],
            sized_fields: &[],
            require_one_slicing_argument: false,
        }
    }

    /// A list of `last` elements, `n` without it.
    pub const fn last_or(n: u32) -> Self {
        Self {
            assumed_size: Some(n),
            slicing_arguments: &["last"],
            sized_fields: &[],
            require_one_slicing_argument: false,
        }
    }
}

/// `@listSize`: how many elements a list field (or, with `sizedFields`, the lists of the object it returns)
/// answers at most.
pub struct ListSize;

impl TypeDirective for ListSize {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(LIST_SIZE.name)
    }

    fn register(&self, registry: &mut Registry) {
        LIST_SIZE.register(registry);
    }
}

impl location_traits::Directive_At_FIELD_DEFINITION for ListSize {}

impl ListSize {
    /// `@listSize(…)` with the arguments of `size` that say something (`requireOneSlicingArgument` only
    /// beside slicing arguments: the spec ignores it otherwise).
    pub fn apply(size: Size) -> MetaDirectiveInvocation {
        let names = |names: &[&str]| {
            Value::List(
                names
                    .iter()
                    .map(|n| Value::String((*n).to_owned()))
                    .collect(),
            )
        };
        let mut args = IndexMap::new();
        if let Some(n) = size.assumed_size {
            args.insert("assumedSize".to_owned(), Value::Number(n.into()));
        }
        if !size.slicing_arguments.is_empty() {
            args.insert("slicingArguments".to_owned(), names(size.slicing_arguments));
        }
        if !size.sized_fields.is_empty() {
            args.insert("sizedFields".to_owned(), names(size.sized_fields));
        }
        if !size.slicing_arguments.is_empty() {
            args.insert(
                "requireOneSlicingArgument".to_owned(),
                Value::Boolean(size.require_one_slicing_argument),
            );
        }
        invocation(LIST_SIZE.name, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_print_as_the_spec_writes_them() {
        assert_eq!(
            ListSize::apply(Size::CONNECTION).sdl(),
            format!(
                "@listSize(assumedSize: {DEFAULT_PAGE_SIZE}, slicingArguments: [\"first\", \"last\"], \
                 sizedFields: [\"edges\", \"nodes\"], requireOneSlicingArgument: false)"
            )
        );
        assert_eq!(
            ListSize::apply(Size::assumed(5)).sdl(),
            "@listSize(assumedSize: 5)"
        );
        assert_eq!(Cost::apply(1).sdl(), "@cost(weight: \"1\")");
    }

    #[test]
    fn the_sdl_describes_the_arguments_as_introspection_does() {
        let sdl = crate::graphql::sdl();
        for definition in [&COST, &LIST_SIZE] {
            let described = format!(
                "directive @{}{}",
                definition.name,
                definition.described_arguments()
            );
            assert!(sdl.contains(&described), "{described} not in the SDL");
            assert!(described.contains(definition.arguments[0].3));
        }
    }
}
