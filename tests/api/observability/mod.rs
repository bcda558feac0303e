//! Observability: `/metrics`, operation-name labels, log shipping, traces, and the files under
//! `observability/`.

mod config_files;
mod exemplars;
mod logstash;
mod metric_labels;
mod metrics;
mod promql;
mod traces;
