{{- /* Named .tpl, not .yaml: ansible-test sanity runs yamllint on *.yaml, and templates are not YAML. */}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: install-marker
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
data:
  installed: "true"
