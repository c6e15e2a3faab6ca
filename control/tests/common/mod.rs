//! Shared helpers for control's integration tests.
#![allow(dead_code)]

use control::ControlOptions;

/// Dev mode: `srv_harbor` admits anyone.
pub fn dev() -> ControlOptions {
    ControlOptions {
        dev_mode: true,
        ..ControlOptions::default()
    }
}

/// Production mode.
pub fn prod() -> ControlOptions {
    ControlOptions {
        dev_mode: false,
        ..ControlOptions::default()
    }
}

/// Runs each listed `async fn(Control)` twice: on a fresh SQLite database (`sqlite::name`) and
/// on a fresh PostgreSQL database (`postgres::name`, skipped without `DATABASE_URL`).
/// `mode` names a function of `common` returning the `ControlOptions` (`dev` or `prod`).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident => $mode:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (ctl, _guard) =
                        ::control::testing::sqlite_temp_with($crate::common::$mode()).await;
                    $crate::$name(ctl).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((ctl, guard)) =
                        ::control::testing::postgres_fresh_with($crate::common::$mode()).await
                    else {
                        return;
                    };
                    $crate::$name(ctl.clone()).await;
                    ctl.close().await;
                    guard.cleanup().await;
                }
            )*
        }
    };
}
