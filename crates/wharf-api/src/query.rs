//! Query strings as Docker clients write them: booleans in every spelling (`1`, `True`,
//! `false`, empty), repeated keys (`t=a&t=b`), and `filters` in both JSON encodings (the
//! CLI's `{"label":{"a=b":true}}`, docker-py's and compose's `{"label":["a=b"]}`).

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// A request's query parameters, in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Params, ApiError> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Params {
    pub(crate) fn parse(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (`t=a&t=b`).
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `key` as the Engine reads a boolean: absent, empty, `0`, `false`, `no` or `none` (any
    /// case) is false, anything else true.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            !matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "none"
            )
        })
    }

    /// `key` as a number; absent or empty is `None`.
    pub(crate) fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?} is not a number"))
            }),
        }
    }

    /// `key` as Docker's `since`/`until`: Unix seconds (with an optional fraction) or an RFC 3339
    /// time; absent or empty is `None`.
    pub(crate) fn time(&self, key: &str) -> Result<Option<std::time::SystemTime>, ApiError> {
        let Some(text) = self.get(key).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if let Ok(seconds) = text.parse::<f64>() {
            let since_epoch = std::time::Duration::from_secs_f64(seconds.max(0.0));
            return Ok(Some(std::time::SystemTime::UNIX_EPOCH + since_epoch));
        }
        humantime::parse_rfc3339_weak(text).map(Some).map_err(|_| {
            ApiError::bad_request(format!("invalid {key} {text:?}: Unix seconds or RFC 3339"))
        })
    }

    /// `filters`, in either encoding, as key to values.
    pub(crate) fn filters(&self) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
        match self.get("filters").filter(|f| !f.is_empty()) {
            None => Ok(BTreeMap::new()),
            Some(text) => parse_filters(text),
        }
    }
}

/// Docker's `filters` JSON: `{"key": {"value": true}}` or `{"key": ["value"]}`.
pub(crate) fn parse_filters(text: &str) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("invalid filters {text:?}: {why}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let mut filters = BTreeMap::new();
    for (key, values) in object {
        let values: Vec<String> = match values {
            serde_json::Value::Object(map) => map
                .iter()
                .filter(|(_, on)| on.as_bool() != Some(false))
                .map(|(v, _)| v.clone())
                .collect(),
            serde_json::Value::Array(list) => list
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => return Err(bad(format!("the values of {key} are not a list or a map"))),
        };
        filters.insert(key.clone(), values);
    }
    Ok(filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_every_spelling() {
        let p = Params::parse("a=1&b=True&c=False&d=&e=no&f=0&g=yes");
        let on: Vec<bool> = ["a", "b", "c", "d", "e", "f", "g", "missing"]
            .iter()
            .map(|k| p.flag(k))
            .collect();
        assert_eq!(on, [true, true, false, false, false, false, true, false]);
        assert_eq!(Params::parse("t=x%3A1&t=y").all("t"), ["x:1", "y"]);
        assert_eq!(
            Params::parse("limit=-1").number::<i64>("limit").unwrap(),
            Some(-1)
        );
        assert!(Params::parse("t=abc").number::<u64>("t").is_err());
    }

    #[test]
    fn filters_in_both_encodings() {
        let map =
            parse_filters(r#"{"label":{"app=demo":true},"status":{"running":true}}"#).unwrap();
        let list = parse_filters(r#"{"label":["app=demo"],"status":["running"]}"#).unwrap();
        assert_eq!(map, list);
        assert_eq!(map["label"], ["app=demo"]);
        assert!(parse_filters("[1]").is_err());
    }
}
