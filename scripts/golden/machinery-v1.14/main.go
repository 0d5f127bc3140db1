// Writes controlplane.yaml, worker.yaml and talosconfig as `talosctl gen config NAME ENDPOINT --with-secrets S
// --with-docs=false --with-examples=false --talos-version V --install-image I` does, with the served machinery.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/bundle"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"go.yaml.in/yaml/v4"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: gen NAME ENDPOINT SECRETS TALOS_VERSION INSTALL_IMAGE OUTDIR")
		os.Exit(2)
	}
	name, endpoint, secretsPath, talosVersion, installImage, out := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	contract, err := config.ParseContractFromVersion(talosVersion)
	must(err)
	sb, err := secrets.LoadBundle(secretsPath)
	must(err)
	must(sb.Validate(contract))
	opts := []generate.Option{
		generate.WithVersionContract(contract),
		generate.WithSecretsBundle(sb),
		generate.WithInstallDisk("/dev/sda"),
		generate.WithInstallImage(installImage),
		generate.WithAdditionalSubjectAltNames([]string{}),
		generate.WithDNSDomain("cluster.local"),
		generate.WithClusterDiscovery(true),
	}
	b, err := bundle.NewBundle(bundle.WithInputOptions(&bundle.InputOptions{ClusterName: name, Endpoint: endpoint, KubeVersion: constants.DefaultKubernetesVersion, GenOptions: opts}))
	must(err)
	for _, t := range []machine.Type{machine.TypeControlPlane, machine.TypeWorker} {
		data, err := b.Serialize(encoder.CommentsDisabled, t)
		must(err)
		must(os.WriteFile(filepath.Join(out, t.String()+".yaml"), data, 0o644))
	}
	tc, err := yaml.Marshal(b.TalosConfig())
	must(err)
	must(os.WriteFile(filepath.Join(out, "talosconfig"), tc, 0o644))
	fmt.Fprintf(os.Stderr, "kubernetes %s\n", constants.DefaultKubernetesVersion)
}
