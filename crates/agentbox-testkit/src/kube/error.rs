//! Errors setting up a fake API server.

/// Why a [`FakeApiServer`](super::FakeApiServer) could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeApiError {
    /// A CustomResourceDefinition given as YAML did not parse.
    #[error(
        "the CustomResourceDefinition YAML does not parse: {source}; pass one YAML document holding one CRD"
    )]
    CrdYaml {
        /// The YAML parser's error.
        #[source]
        source: serde_saphyr::Error,
    },
    /// A CustomResourceDefinition is not one the apiserver would accept.
    #[error(
        "CustomResourceDefinition {name:?} would be refused by the apiserver: {problems}; fix the CRD"
    )]
    CrdInvalid {
        /// `metadata.name` of the CRD.
        name: String,
        /// Every problem, `field: message`, separated by `; `.
        problems: String,
    },
    /// The loopback listener could not be opened.
    #[error(
        "cannot listen on 127.0.0.1 for the fake API server: {source}; check that loopback networking works"
    )]
    Bind {
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The fake kubelet's node storage could not be set up.
    #[error("cannot set up the fake kubelet's node storage: {source}")]
    Node {
        /// The local backend's error.
        #[source]
        source: agentbox_core::Error,
    },
    /// A `kube::Client` for the server could not be built.
    #[error("cannot build a kube client for the fake API server at {url}: {source}")]
    Client {
        /// The server's URL.
        url: String,
        /// kube's error.
        #[source]
        source: ::kube::Error,
    },
}
