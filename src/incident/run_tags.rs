//! What a playbook records on the victim for `reset` and the report: the groups each interface
//! had, the volumes whose DeleteOnTermination it changed, the Elastic IPs it took off. Each is one
//! tag value of `key=value` pairs separated by `;` (a tag value holds 256 characters).

pub const ORIGINAL_GROUPS_TAG: &str = "irlab:original-groups";
pub const VOLUMES_TAG: &str = "irlab:volumes";
pub const EIP_TAG: &str = "irlab:eip";

/// `eni-a=sg-1,sg-2;eni-b=sg-3`, as the playbooks record it.
pub fn parse_groups(value: &str) -> Vec<(String, Vec<String>)> {
    value
        .split(';')
        .filter_map(|part| {
            let (eni, groups) = part.split_once('=')?;
            let groups: Vec<String> =
                groups.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect();
            (!eni.trim().is_empty() && !groups.is_empty()).then(|| (eni.trim().to_string(), groups))
        })
        .collect()
}

/// `vol-a=true;vol-b=false` or `eipalloc-1=198.51.100.7`, as the playbooks record them.
pub fn parse_pairs(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            (!k.trim().is_empty() && !v.trim().is_empty()).then(|| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_groups_parse_per_interface() {
        assert_eq!(
            parse_groups("eni-a=sg-1,sg-2;eni-b=sg-3"),
            vec![
                ("eni-a".to_string(), vec!["sg-1".to_string(), "sg-2".to_string()]),
                ("eni-b".to_string(), vec!["sg-3".to_string()])
            ]
        );
        assert_eq!(parse_groups(""), vec![]);
        assert_eq!(parse_groups("eni-a=;junk"), vec![]);
    }

    #[test]
    fn recorded_volumes_and_addresses_parse_as_pairs() {
        assert_eq!(
            parse_pairs("vol-a=true;vol-b=false"),
            vec![("vol-a".to_string(), "true".to_string()), ("vol-b".to_string(), "false".to_string())]
        );
        assert_eq!(
            parse_pairs("eipalloc-1=198.51.100.7"),
            vec![("eipalloc-1".to_string(), "198.51.100.7".to_string())]
        );
        assert_eq!(parse_pairs("=x;y="), vec![]);
    }
}
