module adplatform/clients/bench/adsload

go 1.22
