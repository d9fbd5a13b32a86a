//! API requests of one full lifecycle, counted by the fake API server.

use std::collections::BTreeSet;

use agentbox::WorkspaceProvider;
use agentbox::contract::Contract;
use agentbox::exec::{ExecRequest, ExecutorExt};
use agentbox::provider::CreateRequest;
use agentbox_che::CheProvider;
use agentbox_testkit::kube::RequestCounters;

use crate::report::table;
use crate::{READY_TIMEOUT, Res};

/// Count the provider's requests of a full lifecycle twice: the first on the provider (which
/// opens its shared watch) and a later one.
pub async fn per_lifecycle(
    provider: &CheProvider,
    contract: &Contract,
    counters: &RequestCounters,
) -> Res<()> {
    let mut tallies = Vec::new();
    for name in ["bench-count-first", "bench-count-later"] {
        counters.reset();
        let ws = provider
            .create(contract, CreateRequest::named(name))
            .await?;
        provider.start(&ws.id).await?;
        provider.wait_ready(&ws.id, READY_TIMEOUT).await?;
        provider
            .executor(&ws.id)
            .await?
            .exec_ok(ExecRequest::new(["true"]))
            .await?;
        provider.stop(&ws.id).await?;
        provider.resume(&ws.id).await?;
        provider.wait_ready(&ws.id, READY_TIMEOUT).await?;
        provider.delete(&ws.id).await?;
        tallies.push(counters.client());
    }

    println!();
    println!("## API requests per lifecycle");
    println!();
    println!(
        "create, start, wait_ready, executor + exec `true`, stop, resume, wait_ready, delete:"
    );
    println!();
    let keys: BTreeSet<_> = tallies
        .iter()
        .flat_map(|t| t.by_verb_and_resource.keys().cloned())
        .collect();
    let mut rows: Vec<Vec<String>> = keys
        .iter()
        .map(|(verb, resource)| {
            let mut row = vec![format!("{verb} {resource}")];
            row.extend(tallies.iter().map(|t| t.count(*verb, resource).to_string()));
            row
        })
        .collect();
    let mut total = vec!["**total**".to_owned()];
    total.extend(tallies.iter().map(|t| format!("**{}**", t.requests)));
    rows.push(total);
    table(
        &["request", "first (opens the shared watch)", "later"],
        &rows,
    );
    Ok(())
}
