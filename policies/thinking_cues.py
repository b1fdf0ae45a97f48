"""The cue words the thinking detector counts: task-type vocabulary in several languages.

Each category is a kind of evidence, not a verdict: `proof` words make thinking likelier,
`translate` words make it less likely, `code` words are neutral alone (an easy "add comments" and
a hard "find the race" both carry them); the learned weights (`thinking_weights.json`) decide how
much each counts and where (instruction, given text, system prompt, earlier turns).

Entry forms: `word` matches that token exactly; `stem*` matches tokens starting with the stem;
`two words` matches the pair of consecutive tokens (Latin and Cyrillic scripts); in Chinese,
Japanese and Korean, where words are not separated by spaces, an entry is a two-character string
matched against every pair of adjacent characters. Tokens are lower-cased runs of letters: digits
and punctuation split them ("what's" is "what", "s").
"""

from __future__ import annotations

__all__ = ["CATEGORIES", "HARD_CATEGORIES", "PROCESS_CATEGORIES", "SOCIAL_CATEGORIES", "CueLexicon", "LEXICON"]

_CUES: dict[str, str] = {
    # ---- evidence that the request poses a problem ------------------------------------------
    "proof": """
        prove proves proved proving proof proofs disprove lemma theorem theorems induction inductive
        contradiction rigorous* qed iff correctness counterexample* invariant undecidable decidable
        show+that show+there demonstrate+that demonstrate+rigorously
        beweis* induktion* widerspruch zeige+dass zeigen+sie
        démontr* demontr* prouver prouvez preuve récurrence recurrence lemme théorème absurde
        montrer+que montrez+que montre+que
        demuestr* demostr* teorema inducción contradicción prueba+que demuestre+que
        prove+que demonstre demonstrar indução dimostra* induzione
        доказ* теорема индукци* bewijs* toon+aan
        证明 定理 归纳 反证 証明 帰納 증명
    """,
    "math": """
        solve solving solutions equation* integral* integrate derivative* differentiat* probabilit*
        expected variance compute calculate calculat* remainder divisible divisib* modulo mod
        primes digits polynomial* roots matrix matrices eigen* determinant inequalit* converg*
        diverg* series maximi* minimi* maximum minimum optimal largest smallest ratio interest
        compounded compound triangle rectangle circle radius perimeter angle* combinatori*
        permutation* combinations arrangements integer* irrational rational factorial gcd lcm
        logarithm* log sqrt exponential mortgage apr cagr odds
        how+many how+much how+long expected+number
        löse lösen berechne* gleichung* wahrscheinlich* ganzzahl* rechenweg zinsen verzinsung summe
        wie+viele wie+lange
        résoudre résous resoudre équation* probabilité combien entier* somme intérêts
        resuelve resolver ecuaci* probabilidad cuántos cuántas cuantos cuantas entero* capitalización
        resolva calcule equação probabilidade quantos quantas área
        risolvi calcola equazione probabilità quanti quante divisibili
        реши* вычисл* уравнени* вероятност* сколько целые целых делит* натуральн*
        bereken* vergelijking hoeveel los+op
        计算 求解 方程 概率 多少 最大 最小 数列 通项 函数 整数 几何 面积 之和 相遇
        方程 確率 求め 解き 整数 計算 계산 확률 방정
    """,
    "algorithm": """
        algorithm* complexity efficient* efficiency recursion recursive dynamic dp graph graphs
        shortest tree trees heap heaps greedy backtrack* np amortized subsequence* subarray*
        substring* linear logarithmic quadratic traversal bfs dfs dijkstra bloom lsh minhash
        heuristic* design sorting scalab* deduplicat* data+structure
        algorithmus algorithmen laufzeit komplexität effizient* entwirf entwerfe
        algorithme* complexité efficace* concevez
        algoritmo* complejidad eficiente* diseña diseñar complessità progetta
        алгоритм* сложност* разработайте
        算法 复杂 设计 高效 ゴリ 算量 設計 알고 복잡
    """,
    "debug": """
        bug bugs buggy debug* error errors exception* traceback stacktrace crash* segfault fails
        failing failed broken hangs hang freez* deadlock* leak* flaky flakiness timeout* oom
        regression wrong incorrect unexpected* garbage workaround stuck slower duplicates
        missing not+working doesn+t times+out
        fehler* funktioniert stürzt absturz bricht hängt
        erreur* plante bogue échoue echoue bloqué fuite
        falla* fallo cuelga erro travado trava falha errore bloccato
        ошибк* падает зависает fout*
        报错 错误 崩溃 调试 异常 停顿 超时 卡住 エラ バグ 遅く 落ち 오류 에러
    """,
    "planning": """
        schedule* itinerary timetable rota roster shift shifts allocat* assign* seating seat
        plan deadline* slot slots timeline feasible infeasible logistics
        zeitplan* planen stundenplan einteil*
        planning emploi organisez organiser calendrier créneau*
        horario* planific* calendario organizar repartir reparto cronograma planejar
        pianifica* orario расписани* график распредел* rooster
        安排 计划 日程 排班 シフ スケ 日程 計画 일정 계획
    """,
    "constraint": """
        constraint* must cannot exactly each every only unless never neither nor both apart
        consecutive* requirement* satisf* refuses allowed forbidden except handling handle handles
        robust atomically at+least at+most no+more no+two in+a+row edge+cases corner+cases without+using
        muss müssen darf dürfen höchstens mindestens genau jede* bedingung*
        doit doivent exactement chacun jamais contrainte* au+moins au+plus
        debe deben exactamente cada nunca ninguno restricci* al+menos como+máximo
        deve exatamente almeno esattamente ogni mai
        должен должна ровно кажд* хотя+бы не+больше
        moet minstens hoogstens precies elke uiterlijk
        必须 不能 至少 最多 恰好 每个 不得 必ず 連続 반드
    """,
    "puzzle": """
        puzzle* riddle* enigma logic logical knights knaves knight knave liar* lies truth truthful
        deduce deduction sudoku weighings weighing balance brainteaser guards prisoners hats
        suspects guilty clue* figure+out
        rätsel logik logisch schachtel* streichhölz*
        énigme* enigme logique acertijo* lógica adivinanza charada indovinello logica
        загадк* головоломк* логик* puzzel raadsel
        谜题 推理 逻辑 谜语 パズ 論理 퍼즐
    """,
    "estimate": """
        estimat* roughly approximately approximate ballpark fermi magnitude envelope guesstimate
        assumptions assume assuming extrapolat* projection rough+guess
        schätz* abschätz* ungefähr größenordnung annahme*
        estim* environ approximati* hypothèse* grandeur
        aproximad* supuesto* hipótesis aproximadamente stima* circa
        оцени* примерно приблизительно schat* ongeveer
        估算 估计 大约 假设 推算 見積 推定 概算 仮定 추정 대략
    """,
    "reason": """
        why reason* derive derivation justify justif* analy* step steps determine find figure
        carefully careful verify trade tradeoff* tradeoffs compare hypothesis cause reasoning
        work+out which+is walk+through
        warum begründ* herleit* bestimm* finde prüfe analysier* schritt*
        pourquoi détermin* trouve* vérifi* étape* raisonnement
        justifica* encuentra pasos razonamiento razonada por+qué justifique passos raciocínio
        perché ragionamento giustifica
        почему обоснуй* найди* определи* шаг* waarom stappen bepaal
        为什 推导 分析 步骤 原因 排查 なぜ 導出 分析 理由 原因 분석
    """,
    "science": """
        velocity acceleration accelerat* force forces energy momentum mass kinetic friction
        gravity gravitational orbit* pressure temperature heat thermal joule* watt* newton* kelvin
        molar mole moles concentration titrat* ph reaction redox equilibrium electric* charge
        charges voltage resistor* resistance circuit* photon* wavelength frequency radioactive
        decay incline projectile oscillat* density kwh half+life
        geschwindigkeit beschleunigung kraft energie masse temperatur wärme* reibung
        vitesse accélération énergie pression gaz adiabatique réaction précipité
        velocidad aceleración energía masa fuerza скорость ускорение энергия масса сила
        速度 加速 能量 质量 反应 温度 压强 电流 电压 速さ 質量 周期 振動 温度
    """,
    "code": """
        code function functions python javascript typescript java golang rust sql query queries
        script bash class method variable* loop api regex compile* build deploy* docker*
        kubernetes server thread* async asyncio goroutine* mutex lock null string strings int
        implement* database index* postgres redis kafka react node git cron nginx
        funktion fonction función função funzione código codice programm*
        代码 函数 程序 实现 并发 関数 コー 実装 プロ
    """,
    # ---- evidence that the request processes given text, recalls a fact or chats -------------
    "translate": """
        translat* tradu* traduc* übersetz* uebersetz* перевед* перевод* vertaal*
        you+say i+say
        翻译 译成 译为 翻訳 訳し 번역
    """,
    "language": """
        english french german spanish italian portuguese japanese chinese korean russian dutch
        arabic hindi englische englisch deutsch französisch spanisch italienisch anglais français
        allemand espagnol italien japonais chinois inglés ingles francés alemán español italiano
        japonés chino inglês português inglese francese tedesco spagnolo англ* русск* немецк*
        французск* engels nederlands duits frans
        英文 英语 中文 日语 法语 德语 英語 日本 中国 영어
    """,
    "rewrite": """
        rewrite* rephrase* paraphras* reword* polish proofread* edit edits editing simplify
        shorten shorter concise* formal formally informal casual friendlier friendly polite*
        tone grammar grammatical spelling typos typo punctuation wording flow passive tense
        british plain+english sound+like
        umformulier* formulier* korrigier* überarbeit* rechtschreibung grammatik freundlicher
        höflich* förmlich*
        reformul* corrig* orthograph* grammaire style améliore
        reescrib* ortografía gramática profesional tono reescreva reformule corrija ortografia
        riscrivi correggi riformula
        перепиши* перефразируй* исправь* грамматик* орфограф* herschrijf corrigeer formeler
        改写 润色 修改 语法 正式 通顺 重写 き直 い換 添削 校正 丁寧 敬語 수정 다듬
    """,
    "summary": """
        summar* tldr tl recap condense* gist takeaways takeaway
        key+points main+points sum+up
        zusammenfass* fasse fass résum* resum* synthèse synthétise riassum* sintesi
        кратко перескаж* резюм* суммируй* samenvat* vat
        总结 摘要 概括 要約 まと 概要 요약
    """,
    "lookup": """
        capital population founded invented discovered wrote author located formula meaning
        mean means define definition
        what+is what+s who+is who+was who+wrote who+discovered who+painted who+invented
        when+did when+was what+year which+year how+tall what+does stand+for
        hauptstadt bedeutet wer wann was+ist
        capitale quand quelle quel qu+est qui+a en+quelle
        quién cuándo qué+es en+qué qué+significa quem quando qual chi o+que
        кто когда где какая какой столица что+такое wie wanneer hoofdstad
        什么 是谁 哪里 首都 多长 多高 哪年 とは 誰が どこ 首都 高さ 수도 어디 무엇
    """,
    "format": """
        format* reformat* convert* json csv yaml xml markdown table tables tabular bullet*
        numbered list extract* alphabetical* sort capitaliz* uppercase lowercase columns column
        rows transpose tidy checklist checkboxes iso pull+out
        formatier* extrahier* tabelle liste spalte* sortier*
        extrai* tableau colonne* trie formatea* extrae* tabla lista ordena columna*
        extraia tabela estrai tabella elenco
        извлеки* таблиц* список отформатир* lijst tabel
        格式 提取 表格 列表 整理 抽出 形式 表に リス 표로
    """,
    "chat": """
        hi hello hey yo hiya thanks thank thx cheers bye morning evening lol haha cool nice
        awesome great perfect glad happy sad bored tired proud love joke* funny fun favourite
        favorite weekend movie* film feel feeling
        how+are are+you s+up good+luck
        hallo danke servus tschüss gerettet schön salut bonjour bonsoir merci soirée
        hola gracias buenas crack oi olá obrigado obrigada valeu ciao grazie giornata
        привет спасибо здравствуй* дела hoi bedankt dank
        wie+geht qué+tal come+stai
        你好 谢谢 早上 聊天 心情 こん あり おは 週末 안녕 감사 날씨
    """,
    "creative": """
        poem* poetry haiku limerick story stories tale song lyrics slogan* tagline* caption tweet
        blog toast speech letter note message names description invitation announcement
        creative fictional fairy bedtime
        come+up
        gedicht* geschichte* märchen lied poème poésie histoire conte lettre rédige*
        poema cuento historia tuit carta mensagem história poesia storia racconto
        стих* рассказ* поздравлени* gedicht verhaal
        短诗 诗歌 故事 文案 邮件 祝福 物語 メッ
    """,
    "explain": """
        explain explanation describe overview introduction intro basics eli5 difference
        how+does what+are tell+me
        erklär* beschreib* unterschied expliqu* décri* différence quoi
        explica* diferencia diferença explique spiega* descrivi differenza
        объясни* опиши* расскажи* разница uitleg* verschil leg+uit
        解释 介绍 区别 説明 教え 違い 설명 차이
    """,
    "given": """
        following below above text paragraph* passage article excerpt sentence* document snippet
        thread notes reviews memo attached unchanged
        here+is here+are here+s as+is without+changing
        folgend* absatz satz brief artikel suivant* texte phrase paragraphe dessous
        siguiente* texto frase párrafo mensaje artículo seguinte testo seguente
        следующ* текст* предложени* абзац статью tekst zin volgende
        以下 下面 这段 这句 文字 文章 这篇 新闻 次の 文章 다음 문장
    """,
    "brevity": """
        briefly brief short quick quickly simple simply just few one+sentence one+line one+word
        kurz einfach kurze bref brièvement court simplement rapidement
        breve brevemente corto sencillo rápido curto simples semplice
        просто простыми kort simpel
        简单 简短 一句 簡単 短く 一言 간단
    """,
    "advice": """
        tips advice suggestions suggest recommend* ideas
        tipps empfehl* pflegeleicht conseil* recommand* consejo* recomiend* recomendar dicas
        indica consigli*
        建议 推荐 おす アド 추천
    """,
}

CATEGORIES: tuple[str, ...] = tuple(_CUES)
HARD_CATEGORIES: tuple[str, ...] = ("proof", "math", "algorithm", "debug", "planning", "puzzle", "estimate")
PROCESS_CATEGORIES: tuple[str, ...] = ("translate", "rewrite", "summary", "format")
SOCIAL_CATEGORIES: tuple[str, ...] = ("chat", "creative", "advice")

_EAST_ASIAN_START = "\u3040"  # hiragana; katakana, CJK ideographs and hangul all lie above it


class CueLexicon:
    """The cue entries compiled into dictionaries: exact words, stems, word pairs, character pairs."""

    __slots__ = ("words", "stems", "stem_lengths", "pairs", "east_asian", "_cache")

    MAX_CACHED_TOKENS = 50_000

    def __init__(self, cues: dict[str, str]) -> None:
        self.words: dict[str, int] = {}
        self.stems: dict[str, int] = {}
        self.pairs: dict[str, dict[str, int]] = {}
        self.east_asian: dict[str, int] = {}
        for index, entries in enumerate(cues.values()):
            for entry in entries.split():
                self._add(entry, index)
        self.stem_lengths = tuple(sorted({len(stem) for stem in self.stems}, reverse=True))
        self._cache: dict[str, int] = {}

    def _add(self, entry: str, index: int) -> None:
        if entry[0] >= _EAST_ASIAN_START:
            if len(entry) != 2:
                raise ValueError(f"East Asian cue {entry!r} must be two characters")
            self.east_asian.setdefault(entry, index)
        elif "+" in entry:
            first, _, second = entry.partition("+")
            if "+" in second:  # three words: count the last pair ("in a row" -> "a row")
                first, _, second = second.partition("+")
            self.pairs.setdefault(first, {}).setdefault(second, index)
        elif entry.endswith("*"):
            self.stems.setdefault(entry[:-1], index)
        else:
            self.words.setdefault(entry, index)

    def category(self, token: str) -> int:
        """The category index of one lower-case token, or -1 (memoised; the cache is bounded)."""
        found = self._cache.get(token)
        if found is not None:
            return found
        found = self.words.get(token, -1)
        if found < 0:
            size = len(token)
            for length in self.stem_lengths:
                if length <= size:
                    found = self.stems.get(token[:length], -1)
                    if found >= 0:
                        break
        if len(self._cache) >= self.MAX_CACHED_TOKENS:
            self._cache.clear()
        self._cache[token] = found
        return found


LEXICON = CueLexicon(_CUES)
