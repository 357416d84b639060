//! Dockerflow: the endpoints load balancers and deploy tooling poll, as
//! Mozilla's services answer them.
//!
//! - `__lbheartbeat__`: 200 `{}` whenever the process serves HTTP at all.
//! - `__heartbeat__`: 200 when the database answers a read and grants a
//!   write transaction, else 503 — the signal to stop routing here.
//! - `__version__`: what is running.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// `GET /__lbheartbeat__`.
pub async fn lbheartbeat() -> Response {
    Json(json!({})).into_response()
}

/// `GET /__heartbeat__`.
pub async fn heartbeat(State(state): State<Arc<AppState>>) -> Response {
    let db = state.db.clone();
    let checked = tokio::task::spawn_blocking(move || db.heartbeat()).await;
    let (status, database) = match checked {
        Ok(Ok(())) => (StatusCode::OK, "Ok"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "heartbeat: database check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "Err")
        }
        Err(e) => {
            tracing::error!(error = %e, "heartbeat: database task failed");
            (StatusCode::SERVICE_UNAVAILABLE, "Err")
        }
    };
    let body = json!({
        "status": if status == StatusCode::OK { "Ok" } else { "Err" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": database,
        "role": state.config.role,
    });
    (status, Json(body)).into_response()
}

/// `GET /__version__`: Dockerflow's `version.json` fields. The commit and
/// build come from `SYNC_STORAGE_COMMIT` / `SYNC_STORAGE_BUILD` at build
/// time, when a packager sets them.
pub async fn version() -> Response {
    Json(json!({
        "source": env!("CARGO_PKG_REPOSITORY"),
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SYNC_STORAGE_COMMIT").unwrap_or("unknown"),
        "build": option_env!("SYNC_STORAGE_BUILD").unwrap_or("unknown"),
    }))
    .into_response()
}
