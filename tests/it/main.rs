//! End-to-end tests: the real `itsmid` binary against the simulators, in a
//! fresh temporary folder each.

mod check;
mod inputs;
mod pipeline;
mod resolve;
mod support;
mod systems;
mod users;
