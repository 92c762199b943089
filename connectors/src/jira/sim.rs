//! Skeleton, replaced by the full simulator.

use wiremock::MockServer;

use crate::sim::Faults;

pub struct SimData;

impl SimData {
    pub fn parse(_text: &str) -> Result<SimData, String> {
        Ok(SimData)
    }
}

pub async fn mount(_server: &MockServer, _data: SimData, _faults: Faults) {}
