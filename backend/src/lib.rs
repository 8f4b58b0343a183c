//! HọcThi: one service for a province's shared learning content, question banks and exams.
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod entities;
pub mod error;
pub mod files;
pub mod health;
pub mod i18n;
pub mod org;
pub mod questions;
pub mod request;
pub mod seed;
pub mod startup;
pub mod state;
pub mod stores;
pub mod telemetry;
