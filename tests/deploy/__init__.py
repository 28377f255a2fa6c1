"""Deployment tests: the Helm chart and the Ansible roles and playbooks."""
