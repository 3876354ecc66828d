package nodesim

import (
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/tools/clientcmd"
)

func Main(args []string) int { return 0 }
