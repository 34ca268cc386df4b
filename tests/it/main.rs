//! Integration tests: every network test uses servers bound here on 127.0.0.1 port 0.

mod cli;
mod cluster;
mod control;
mod deploy;
mod engine;
mod faults;
mod journeys;
mod layers;
mod protocols;
mod reports;
mod scenarios;
mod shapes;
mod streams;
mod support;
mod tui_e2e;
mod tui_render;
mod websocket;
