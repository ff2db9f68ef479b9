// Load the forged deepseek GGUF (+ optional LoRA) with llama.cpp and either
//   score: write the logits of every position of a token window (int32 ids file) to a float32 file, or
//   chat:  greedy-decode an answer to a prompt (int32 ids file) and print it.
// Build (against a llama.cpp static build, e.g. the one llama-cpp-sys-2 makes):
//   g++ -O2 -std=c++17 llcheck.cpp -I$LL/include -L$LL/lib -lllama -lggml -lggml-cpu -lggml-base -fopenmp -lpthread -ldl -o llcheck
// Usage: llcheck MODEL LORA|- score|chat IDS_FILE [OUT_FILE|N_NEW] [EXPERTS_USED]
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static std::vector<llama_token> read_ids(const char *path) {
    std::vector<llama_token> v;
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    int32_t x;
    while (fread(&x, 4, 1, f) == 1) v.push_back(x);
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: llcheck MODEL LORA|- score|chat IDS [OUT|N_NEW] [EXPERTS_USED]\n"); return 2; }
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    std::vector<llama_model_kv_override> ov;
    if (argc > 6) {
        llama_model_kv_override o{};
        o.tag = LLAMA_KV_OVERRIDE_TYPE_INT;
        snprintf(o.key, sizeof(o.key), "deepseek.expert_used_count");
        o.val_i64 = atoi(argv[6]);
        ov.push_back(o);
        ov.push_back(llama_model_kv_override{});  // terminator: empty key
        mp.kv_overrides = ov.data();
    }
    llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "model load failed\n"); return 1; }
    llama_adapter_lora *lora = nullptr;
    if (strcmp(argv[2], "-") != 0) {
        lora = llama_adapter_lora_init(model, argv[2]);
        if (!lora) { fprintf(stderr, "lora load failed\n"); return 1; }
    }
    std::vector<llama_token> ids = read_ids(argv[4]);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 1024;
    cp.n_batch = 1024;
    cp.n_ubatch = 1024;
    cp.n_threads = cp.n_threads_batch = 2;
    llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "context failed\n"); return 1; }
    if (lora) {
        float scale = 1.0f;
        if (llama_set_adapters_lora(ctx, &lora, 1, &scale) != 0) { fprintf(stderr, "set lora failed\n"); return 1; }
    }
    const llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_batch b = llama_batch_init((int)ids.size(), 0, 1);
    bool score = strcmp(argv[3], "score") == 0;
    for (size_t i = 0; i < ids.size(); i++) {
        b.token[i] = ids[i]; b.pos[i] = (llama_pos)i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0;
        b.logits[i] = score || i + 1 == ids.size();
    }
    b.n_tokens = (int)ids.size();
    if (llama_decode(ctx, b) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
    if (score) {
        FILE *f = fopen(argv[5], "wb");
        for (size_t i = 0; i < ids.size(); i++) fwrite(llama_get_logits_ith(ctx, (int)i), 4, n_vocab, f);
        fclose(f);
        printf("wrote %zu x %d logits\n", ids.size(), n_vocab);
    } else {
        int n_new = argc > 5 ? atoi(argv[5]) : 64;
        std::string out;
        llama_pos pos = (llama_pos)ids.size();
        for (int t = 0; t < n_new; t++) {
            const float *lg = llama_get_logits_ith(ctx, -1);
            int best = 0;
            for (int j = 1; j < n_vocab; j++) if (lg[j] > lg[best]) best = j;
            if (llama_vocab_is_eog(vocab, best)) break;
            char buf[256];
            int n = llama_token_to_piece(vocab, best, buf, sizeof(buf), 0, false);
            if (n > 0) out.append(buf, n);
            llama_token tok = best;
            llama_batch one = llama_batch_get_one(&tok, 1);
            (void)pos;
            if (llama_decode(ctx, one) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
        }
        printf("%s\n", out.c_str());
    }
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
