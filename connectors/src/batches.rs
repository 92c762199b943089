//! Batches that a request too large for its system splits (SPEC section 5,
//! Limits). A batch whose request is too large (its request line over the
//! system's limit, so never sent, or answered 414, 431 or a 400 saying so)
//! is asked again in halves; a value whose request alone is too large is
//! refused with the reason, like an injection attempt. So one entry never
//! makes its system unavailable.
//!
//! Never turns any other error into a refusal: only
//! [`ConnectorError::TooLarge`] splits a batch; every other error is the
//! caller's to return.

use std::collections::VecDeque;

use crate::{ConnectorError, Lookup, System, UnsafeValue};

/// The batches of one lookup still to ask, in order, and the values refused.
///
/// ```text
/// while let Some(batch) = batches.next_batch() {
///     match fetch(&batch).await {
///         Ok(records) => answers.add(records),
///         Err(error) => batches.failed(batch, error)?,
///     }
/// }
/// ```
pub(crate) struct Batches<T> {
    system: System,
    pending: VecDeque<Vec<T>>,
    refused: Vec<(T, UnsafeValue)>,
}

impl<T> Batches<T> {
    pub(crate) fn new(system: System, batches: impl IntoIterator<Item = Vec<T>>) -> Self {
        Batches {
            system,
            pending: batches
                .into_iter()
                .filter(|batch| !batch.is_empty())
                .collect(),
            refused: Vec::new(),
        }
    }

    /// The next batch to ask; the halves of a split batch come first.
    pub(crate) fn next_batch(&mut self) -> Option<Vec<T>> {
        self.pending.pop_front()
    }

    /// Reads the error `batch` got. A request too large splits a batch of
    /// several values in halves, asked next, and refuses a value alone; any
    /// other error is returned.
    pub(crate) fn failed(
        &mut self,
        mut batch: Vec<T>,
        error: ConnectorError,
    ) -> Result<(), ConnectorError> {
        let Some(detail) = error.too_large() else {
            return Err(error);
        };
        match batch.len() {
            0 => Err(error),
            1 => {
                let refusal = refusal(self.system, detail);
                self.refused
                    .extend(batch.into_iter().map(|value| (value, refusal.clone())));
                Ok(())
            }
            count => {
                tracing::info!(system = %self.system, values = count, %detail,
                    "a request was too large for the system; asking its batch in halves");
                let second = batch.split_off(count / 2);
                self.pending.push_front(second);
                self.pending.push_front(batch);
                Ok(())
            }
        }
    }

    /// The values refused, each with its reason.
    pub(crate) fn into_refused(self) -> Vec<(T, UnsafeValue)> {
        self.refused
    }
}

/// The error of a request for one value: too large refuses the value, any
/// other error is returned.
pub(crate) fn refused_alone(
    system: System,
    error: ConnectorError,
) -> Result<Lookup, ConnectorError> {
    match error.too_large() {
        Some(detail) => Ok(Lookup::Refused(refusal(system, detail))),
        None => Err(error),
    }
}

/// Why a value was not looked up: its request alone is too large.
fn refusal(system: System, detail: &str) -> UnsafeValue {
    UnsafeValue {
        reason: format!("the value is too long for {system}'s request limit ({detail})"),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::*;
    use crate::Integration;

    fn too_large() -> ConnectorError {
        ConnectorError::TooLarge {
            integration: Integration::new("snow"),
            method: Method::GET,
            path: "/api".into(),
            detail: "HTTP 414: the request URI is too long".into(),
        }
    }

    #[test]
    fn a_batch_too_large_is_asked_in_halves_until_the_one_value_is_refused() {
        let mut batches =
            Batches::new(System::ServiceNow, [vec!["a", "b", "c", "long"], vec!["d"]]);
        let mut asked = Vec::new();
        while let Some(batch) = batches.next_batch() {
            asked.push(batch.join(","));
            if batch.contains(&"long") {
                batches
                    .failed(batch, too_large())
                    .expect("split, not failed");
            }
        }
        assert_eq!(asked, ["a,b,c,long", "a,b", "c,long", "c", "long", "d"]);
        let refused = batches.into_refused();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "long");
        assert_eq!(
            refused[0].1.reason,
            "the value is too long for servicenow's request limit (HTTP 414: the request URI is \
             too long)"
        );
    }

    #[test]
    fn any_other_error_is_returned() {
        let mut batches = Batches::new(System::Jira, [vec!["a", "b"]]);
        let batch = batches.next_batch().expect("a batch");
        let down = ConnectorError::Unreachable {
            integration: Integration::new("jira"),
            method: Method::GET,
            path: "/api".into(),
            detail: "HTTP 503".into(),
        };
        assert!(batches.failed(batch, down).is_err());
        assert!(batches.next_batch().is_none());
        assert!(matches!(
            refused_alone(System::Jira, too_large()),
            Ok(Lookup::Refused(_))
        ));
    }
}
