//! Skeleton, replaced by the full connector.

pub mod sim;

use crate::{
    Connector, ConnectorError, ConnectorSettings, CredentialOwner, HttpClient, ItsmUserId,
    LookupKey, Lookups,
};

pub struct Client {
    http: HttpClient,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        Ok(Client {
            http: HttpClient::new(
                settings.integration,
                settings.base_url,
                settings.credentials,
                settings.http,
            )?,
        })
    }
}

pub fn parse_sys_id(value: &str) -> Result<ItsmUserId, String> {
    Ok(ItsmUserId::new(value))
}

impl Connector for Client {
    async fn lookup(&self, _keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        Ok(Lookups::default())
    }

    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        Ok(CredentialOwner::Unknown)
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }
}
