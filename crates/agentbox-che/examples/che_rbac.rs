//! Print the Role and RoleBinding an orchestrator needs to drive agentbox's Che provider in one
//! namespace, ready for `kubectl apply -f -`.
//!
//! ```sh
//! cargo run -p agentbox-che --example che_rbac -- <namespace> <service-account>
//! ```

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [namespace, name] = args.as_slice() else {
        eprintln!("usage: che_rbac <namespace> <service-account>");
        std::process::exit(2);
    };
    let (role, binding) = agentbox_che::rbac::role(namespace, name);
    match agentbox_che::rbac::to_yaml(&role, &binding) {
        Ok(yaml) => print!("{yaml}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
