"""How clients reach the server: stdio for desktop hosts, Streamable HTTP (bearer tokens, Host and
Origin checks) for everything else."""
